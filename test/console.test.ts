import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildConsole } from '../scripts/build-console';
import { loadGovernance } from '../subgraphs/orchestration/governance/governance';
import { convert, createWonOpportunity, waitForRun } from './support/runs';
import { authHeader, gql, startTestStack, tokenFor } from './support/stack';

/** Screenshots of the console's pages, for people to look at (git-ignored). */
const SCREENSHOT_DIR = join(__dirname, 'artifacts', 'console');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OPERATOR = 'alice.ops@meridian.test';

describe('the operations console in a real browser', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let browser: BrowserContext;
  let userDataDir: string;
  let base: string;
  // The gateway's graphql-ws sockets, so a test can drop them (and refuse new ones) as a network failure would.
  const sockets = new Set<Duplex>();
  let refuseSockets = false;

  beforeAll(async () => {
    await buildConsole();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // The UK maps to a tax jurisdiction the ERP does not know, so every UK conversion stops on an ERP rejection.
    const governance = loadGovernance();
    governance.deliveryRegions.UK = { ...governance.deliveryRegions.UK!, taxJurisdiction: 'XX' };
    stack = await startTestStack({ governance, workerOptions: { idlePollMs: 20 } });
    base = stack.gatewayUrl.replace(/\/graphql$/, '');
    stack.gateway.server.on('upgrade', (_req, socket: Duplex) => {
      if (refuseSockets) return void socket.destroy();
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    userDataDir = mkdtempSync(join(tmpdir(), 'meridian-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  /** A new tab signed in with a token of `role`; sessionStorage is per tab, so tabs are separate sessions. */
  async function signedIn(role: 'operations' | 'bi' | 'portal', subject: string, accounts?: string[]): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${base}/console/`);
    await page.fill('#token', await tokenFor(role, { subject, ...(accounts ? { accounts } : {}) }));
    await page.click('button[type=submit]');
    return page;
  }

  /** A conversion that stops on the ERP's rejection of tax jurisdiction 'XX'. */
  async function stoppedConversion() {
    const deal = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, deal.opportunityId)).data!.convertOpportunityToProject.id;
    const run = await waitForRun(stack, runId, ['EXCEPTION', 'SUCCEEDED']);
    expect(run.status).toBe('EXCEPTION');
    return { ...deal, runId, stoppedAt: Date.now() };
  }

  const runState = async (runId: string) =>
    (
      await gql<{ syncRun: { status: string; sequence: number; input: string } }>(
        stack.gatewayUrl,
        'query($id: ID!) { syncRun(id: $id) { status sequence input } }',
        { id: runId },
      )
    ).body.data!.syncRun;

  it('shows an ERP rejection live; the operator corrects it, the run completes live, the audit names them', async () => {
    const inbox = await signedIn('operations', OPERATOR);
    await inbox.getByRole('heading', { name: 'Exceptions' }).waitFor();
    await inbox.getByText('● live').waitFor();

    const { runId } = await stoppedConversion();
    // It arrives through the live feed (the page has no timer); bench:console measures how fast (p95 well under 1 s).
    const card = inbox.locator(`li.exception[data-run-id="${runId}"]`);
    await card.waitFor();
    expect(await card.locator('.message').textContent()).toContain(
      "nothing was written: ERP has no tax jurisdiction 'XX' for legal entity 'MERIDIAN-UK'.",
    );
    expect(await inbox.locator('fieldset.class-counts [data-class="BAD_VALUE"] b').textContent()).toBe('1');

    // The run's page follows it live from here.
    const runPage = await signedIn('operations', OPERATOR);
    await runPage.goto(`${base}/console/runs/${runId}`);
    await runPage.locator('section[data-status="EXCEPTION"]').waitFor();

    // The form checks shapes before sending; the API refuses a date that is no calendar day, next to the field.
    await card.getByRole('button', { name: 'Edit and retry' }).click();
    const form = card.getByRole('form', { name: 'edit and retry' });
    await form.locator('input[name=taxJurisdiction]').fill('G B');
    await form.getByRole('button', { name: 'Retry with these values' }).click();
    expect(await form.locator('[data-field-error="taxJurisdiction"]').textContent()).toBe(
      'Letters, digits, - and _ only (up to 40)',
    );
    const before = await runState(runId);
    await form.locator('input[name=taxJurisdiction]').fill('');
    await form.locator('input[name=expectedStartDate]').fill('2026-02-30');
    await form.getByRole('button', { name: 'Retry with these values' }).click();
    await form.locator('[data-field-error="expectedStartDate"]').waitFor();
    expect(await form.locator('[data-field-error="expectedStartDate"]').textContent()).toBe(
      "BAD_USER_INPUT: expectedStartDate must be a date written YYYY-MM-DD; got '2026-02-30'",
    );
    expect(await runState(runId)).toEqual(before);
    await inbox.screenshot({ path: join(SCREENSHOT_DIR, 'exceptions.png'), fullPage: true });

    await form.locator('input[name=expectedStartDate]').fill('2026-12-01');
    await form.locator('input[name=taxJurisdiction]').fill('GB');
    await form.getByRole('button', { name: 'Retry with these values' }).click();
    await card.waitFor({ state: 'detached' });
    await inbox
      .getByRole('list', { name: 'recent actions' })
      .getByText(`Retried with corrections run ${runId}`)
      .waitFor();
    await runPage.locator('section[data-status="SUCCEEDED"]').waitFor();
    expect(await runPage.locator('table.steps tbody tr td:nth-child(2)').allTextContents()).toEqual(
      Array(5).fill('succeeded'),
    );
    await runPage.getByRole('table', { name: 'audit log' }).getByText(OPERATOR).first().waitFor();
    await runPage.screenshot({ path: join(SCREENSHOT_DIR, 'run.png'), fullPage: true });

    const audit = await gql<{ syncRun: { audit: { actor: string; role: string; action: string }[] } }>(
      stack.gatewayUrl,
      'query($id: ID!) { syncRun(id: $id) { audit { actor role action } } }',
      { id: runId },
    );
    expect(audit.body.data!.syncRun.audit).toContainEqual({
      actor: OPERATOR,
      role: 'operations',
      action: 'RUN_RETRIED_WITH_INPUT',
    });
    const open = await gql(stack.gatewayUrl, '{ exceptions { nodes { run { id } } } }');
    expect(open.body.data!.exceptions.nodes).not.toContainEqual({ run: { id: runId } });

    await Promise.all([inbox.close(), runPage.close()]);
  });

  it("shows a deal's journey with the CRM, PSA and ERP IDs, by any of its IDs, and the runs that touched it", async () => {
    // A deal converted without trouble: the CRM opportunity, the PSA project and the ERP customer, each with its ID,
    // found by any of the IDs a person may have at hand.
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { deliveryRegion: 'DACH', currency: 'EUR' });
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    expect((await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    const { correlationId } = (
      await gql<{ syncRun: { correlationId: string } }>(
        stack.gatewayUrl,
        'query($id: ID!) { syncRun(id: $id) { correlationId } }',
        { id: runId },
      )
    ).body.data!.syncRun;
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    const [opportunity] = await stack.stores.crm.getOpportunities([opportunityId]);
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([opportunity!.accountId]);
    const journey = await signedIn('operations', OPERATOR);
    for (const term of [opportunityId, project!.id, runId, correlationId]) {
      await journey.goto(`${base}/console/journey?q=${encodeURIComponent(term)}`);
      await journey.getByRole('list', { name: 'journey' }).waitFor();
      expect(await journey.locator('[data-system-id]').allTextContents()).toEqual([
        opportunityId,
        project!.id,
        customer!.id,
        'not yet',
        'not yet',
        'not yet',
      ]);
    }
    expect(await journey.locator('li.hop[data-hop="Opportunity"] .meta').textContent()).toContain(runId);
    await journey.screenshot({ path: join(SCREENSHOT_DIR, 'journey-new-deal.png'), fullPage: true });

    // A seeded deal further along, found by one of its invoices: billing lines, invoices and payments with ERP IDs.
    const invoices = await gql<{
      invoices: {
        nodes: {
          id: string;
          payments: { id: string }[];
          project: { id: string; opportunity: { id: string } | null } | null;
        }[];
      };
    }>(stack.gatewayUrl, '{ invoices(first: 200) { nodes { id payments { id } project { id opportunity { id } } } } }');
    const paid = invoices.body.data!.invoices.nodes.find((i) => i.payments.length > 0 && i.project?.opportunity)!;
    const statusRunId = (
      await gql(stack.gatewayUrl, 'mutation($id: ID!) { syncInvoiceStatus(input: { invoiceId: $id }) { id } }', {
        id: paid.id,
      })
    ).body.data!.syncInvoiceStatus.id as string;
    expect((await waitForRun(stack, statusRunId, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    await journey.goto(`${base}/console/journey?q=${paid.id}`);
    await journey.getByRole('list', { name: 'journey' }).waitFor();
    const ids = await journey.locator('[data-system-id]').allTextContents();
    expect(ids.slice(0, 2)).toEqual([paid.project!.opportunity!.id, paid.project!.id]);
    expect(ids[2]).toMatch(/^CUS-/);
    await journey.locator('li.hop[data-hop="Invoices"]').getByText(paid.id, { exact: true }).waitFor();
    await journey.locator('li.hop[data-hop="Payments"]').getByText(paid.payments[0]!.id, { exact: true }).waitFor();
    await journey.locator('li.hop[data-hop="Invoices"] .meta').getByText(statusRunId).waitFor();
    await journey.locator('li.hop[data-hop="Invoices"] table').getByText(statusRunId).waitFor();
    await journey.locator('li.hop[data-hop="Payments"] .meta').getByText(statusRunId).waitFor();
    await journey.screenshot({ path: join(SCREENSHOT_DIR, 'journey.png'), fullPage: true });
    await journey.close();
  });

  it('shows "reconnecting" while the socket is down and catches up on every change it missed', async () => {
    // The runs list is open before the run exists: its row arrives through syncRunsUpdated.
    const runsPage = await signedIn('operations', OPERATOR);
    await runsPage.goto(`${base}/console/runs`);
    await runsPage.getByText(/runs known of/).waitFor();
    await runsPage.getByText('● live').waitFor();
    const { runId } = await stoppedConversion();
    await runsPage.locator(`tr[data-run-id="${runId}"][data-status="EXCEPTION"]`).waitFor();

    const page = await signedIn('operations', OPERATOR);
    await page.goto(`${base}/console/runs/${runId}`);
    await page.locator('section[data-status="EXCEPTION"]').waitFor();
    await page.getByText('● live').waitFor();
    const seen = Number(await page.locator('section[aria-label="run"]').getAttribute('data-sequence'));

    refuseSockets = true;
    for (const socket of sockets) socket.destroy();
    await page.getByText('○ reconnecting…').waitFor();
    const retried = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { retryRunWithInput(id: $id, patch: { taxJurisdiction: "GB" }) { status } }',
      { id: runId },
      await authHeader('operations', { subject: OPERATOR }),
    );
    expect(retried.body).toEqual({ data: { retryRunWithInput: { status: 'QUEUED' } } });
    const done = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.status).toBe('SUCCEEDED');
    expect(await page.locator('section[aria-label="run"]').getAttribute('data-status')).toBe('EXCEPTION');
    refuseSockets = false;

    await page.locator(`section[data-status="SUCCEEDED"][data-sequence="${done.sequence}"]`).waitFor();
    await page.getByText('● live').waitFor();
    // Every state from the one first shown to the last, once each, in order.
    await page.locator(`ol.timeline li[data-sequence="${done.sequence - 1}"]`).waitFor();
    const sequences = (await page
      .locator('ol.timeline li')
      .evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-sequence'))))) as number[];
    expect(sequences).toEqual(Array.from({ length: done.sequence - seen + 1 }, (_, i) => seen + i));
    expect(await page.getByText('(caught up after a reconnect)').count()).toBeGreaterThan(0);
    // The list read itself again after the reconnect: the run's row is at its last state.
    await runsPage
      .locator(`tr[data-run-id="${runId}"][data-status="SUCCEEDED"][data-sequence="${done.sequence}"]`)
      .waitFor();
    await runsPage.screenshot({ path: join(SCREENSHOT_DIR, 'runs.png') });
    await Promise.all([page.close(), runsPage.close()]);
  });

  it('resolves with a note, abandons after saying what is undone, and retries a selection in bulk', async () => {
    const stopped = await Promise.all(Array.from({ length: 4 }, () => stoppedConversion()));
    type Stopped = (typeof stopped)[number];
    const [toResolve, toAbandon, bulkA, bulkB] = stopped as [Stopped, Stopped, Stopped, Stopped];
    const page = await signedIn('operations', OPERATOR);
    const card = (run: { runId: string }) => page.locator(`li.exception[data-run-id="${run.runId}"]`);
    for (const run of [toResolve, toAbandon, bulkA, bulkB]) await card(run).waitFor();

    await card(toResolve).getByRole('button', { name: 'Resolve' }).click();
    const resolveForm = card(toResolve).getByRole('form', { name: 'resolve' });
    await resolveForm.getByRole('button', { name: 'Resolve' }).click();
    expect(await resolveForm.getByRole('alert').textContent()).toBe(
      'Say how it was resolved: the note goes into the audit log',
    );
    await resolveForm.locator('textarea[name=note]').fill('Customer created by hand in the ERP');
    await resolveForm.getByRole('button', { name: 'Resolve' }).click();
    await card(toResolve).waitFor({ state: 'detached' });

    await card(toAbandon).getByRole('button', { name: 'Abandon' }).click();
    const confirm = card(toAbandon).getByRole('alertdialog', { name: 'confirm abandon' });
    expect(await confirm.textContent()).toContain(
      `Abandon run ${toAbandon.runId}?No completed step has anything to undo: the run simply stops.` +
        'Left as they are (nothing to undo): Validate opportunity.',
    );
    await confirm.getByRole('button', { name: 'Abandon and undo' }).click();
    await card(toAbandon).waitFor({ state: 'detached' });
    expect((await waitForRun(stack, toAbandon.runId, ['ABANDONED'])).status).toBe('ABANDONED');

    await card(bulkA).getByRole('checkbox').check();
    await card(bulkB).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Retry selected (2)' }).click();
    await page.getByText('Retried 2 of 2').waitFor();

    const audits = await gql<{
      [alias: string]: { audit: { actor: string; action: string; detail: string | null }[] };
    }>(
      stack.gatewayUrl,
      `query($a: ID!, $b: ID!, $c: ID!, $d: ID!) {
        a: syncRun(id: $a) { audit { actor action detail } } b: syncRun(id: $b) { audit { actor action detail } }
        c: syncRun(id: $c) { audit { actor action detail } } d: syncRun(id: $d) { audit { actor action detail } } }`,
      { a: toResolve.runId, b: toAbandon.runId, c: bulkA.runId, d: bulkB.runId },
    );
    const byOperator = (alias: string) =>
      audits.body.data![alias]!.audit.filter((a) => a.actor === OPERATOR).map((a) => a.action);
    expect(byOperator('a')).toEqual(['EXCEPTION_RESOLVED', 'RUN_RESOLVED']);
    expect(audits.body.data!.a!.audit.find((a) => a.action === 'EXCEPTION_RESOLVED')!.detail).toContain(
      'Customer created by hand in the ERP',
    );
    expect(byOperator('b')).toEqual(['RUN_ABANDON_REQUESTED']);
    expect(byOperator('c')).toEqual(['RUN_RETRIED']);
    expect(byOperator('d')).toEqual(['RUN_RETRIED']);
    await page.close();
  });

  it('lets a BI reader see the inbox but not act, and the API refuses their mutation', async () => {
    const { runId } = await stoppedConversion();
    const page = await signedIn('bi', 'bob.bi@meridian.test');
    const card = page.locator(`li.exception[data-run-id="${runId}"]`);
    await card.waitFor();
    await page.getByText('Read-only: your BI role can look, not act').waitFor();
    expect(await page.getByRole('button', { name: /Retry|Resolve|Abandon|Edit and retry/ }).count()).toBe(0);
    expect(await page.locator('input[type=checkbox]').count()).toBe(0);
    // Filters: the ERP rejection is not a CRM exception; the class chips filter in the page.
    await page.selectOption('select[name=system]', 'crm');
    await card.waitFor({ state: 'detached' });
    await page.selectOption('select[name=system]', 'erp');
    await card.waitFor();
    await page.locator('fieldset.class-counts [data-class="BAD_VALUE"]').click();
    await card.waitFor();
    expect(await page.locator('select[name=class]').inputValue()).toBe('BAD_VALUE');
    // Even from the page, with the BI token, the mutation is refused by the gateway.
    const refused = await page.evaluate(async (id) => {
      const token = (globalThis as any).sessionStorage.getItem('meridian.console.token');
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'mutation($id: ID!) { retryRun(id: $id) { status } }', variables: { id } }),
      });
      return (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    }, runId);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await runState(runId)).status).toBe('EXCEPTION');
    await page.close();
  });

  it('refuses a portal token with a page saying why, and a token the gateway does not accept at sign-in', async () => {
    const page = await signedIn('portal', 'carol@client.test', ['ACC-000001']);
    await page.getByRole('heading', { name: 'This console is not open to your account' }).waitFor();
    await page.getByText('PERSISTED_QUERY_NOT_IN_LIST').waitFor();
    expect(await page.getByRole('link', { name: 'Exceptions' }).count()).toBe(0);

    // Claims changed after signing: the page reads them, but the gateway refuses the token, so sign-in fails.
    const [header, , signature] = (await tokenFor('bi', { subject: 'mallory' })).split('.');
    const claims = Buffer.from(JSON.stringify({ sub: 'mallory', role: 'operations', exp: 4_102_444_800 })).toString(
      'base64url',
    );
    const forged = await browser.newPage();
    await forged.goto(`${base}/console/`);
    await forged.fill('#token', `${header}.${claims}.${signature}`);
    await forged.click('button[type=submit]');
    expect(await forged.getByRole('alert').textContent()).toMatch(
      /^The gateway refused this token: .* \(UNAUTHENTICATED\)$/,
    );
    expect(await forged.getByRole('heading', { name: 'Exceptions' }).count()).toBe(0);
    await Promise.all([page.close(), forged.close()]);
  });
});
