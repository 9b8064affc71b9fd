/*
 * npm run bench:console [-- --runs 20]
 *
 * How fast the operations console shows what happens, in a real browser (Debian's Chromium through playwright-core)
 * against the whole stack in this process: per conversion that the ERP rejects,
 *  1. from the run stopping (the worker's run event) to its exception on the inbox page;
 *  2. from the accepted `retryRunWithInput` to the exception leaving the page (the run's change reaching the page).
 * Runs one after the other, so each figure is one path, not a queue. Figures, not assertions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatUsage } from '../lib/cli';
import type { RunRecord } from '../subgraphs/orchestration/engine/ledger';
import { benchDeal } from './bench-deal';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

const USAGE = formatUsage({
  command: 'npm run bench:console -- [--runs N]',
  summary:
    'The operations console in Chromium against the whole stack: from a run stopping on an ERP rejection to its\n' +
    'exception on the inbox page, and from the accepted edit-and-retry to the exception leaving the page.',
  options: [['--runs N', 'conversions the ERP rejects, one after the other (default 20)']],
  env: [['CHROMIUM_PATH', 'the browser (default /usr/bin/chromium)']],
});

const { values } = (() => {
  try {
    return parseArgs({
      options: { runs: { type: 'string', default: '20' }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    console.error(`bench:console: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const runs = Number(values.runs);

async function main(): Promise<void> {
  // Loaded here, not at the top, so that --help answers without loading the browser driver and the whole stack.
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const { mintToken } = require('../gateway/auth/mint-token') as typeof import('../gateway/auth/mint-token');
  const { buildConsole } = require('../scripts/build-console') as typeof import('../scripts/build-console');
  const { loadGovernance } =
    require('../subgraphs/orchestration/governance/governance') as typeof import('../subgraphs/orchestration/governance/governance');
  const { startStack } = require('../stack/start-stack') as typeof import('../stack/start-stack');
  const { authOptionsOf, benchAuth, bearerHeader } = require('./bench-auth') as typeof import('./bench-auth');
  const { percentile } = require('./load') as typeof import('./load');
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-console-'));
  const userDataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-chromium-'));
  const auth = benchAuth();
  const governance = loadGovernance();
  governance.deliveryRegions.UK = { ...governance.deliveryRegions.UK!, taxJurisdiction: 'XX' };
  await buildConsole();
  const stack = await startStack({
    dataDir,
    seedAccounts: 12,
    governance,
    auth: authOptionsOf(auth),
    workerOptions: { idlePollMs: 20 },
  });
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const headers = { ...(await bearerHeader(auth, 'service')), 'content-type': 'application/json' };
    const post = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(stack.gatewayUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
      if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data!;
    };
    const stopped = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    stack.runEvents.on('run', (run: RunRecord) => {
      if (run.status !== 'EXCEPTION' || stopped.has(run.id)) return;
      stopped.set(run.id, Date.now());
      waiters.get(run.id)?.();
    });
    const page = await browser.newPage();
    await page.goto(stack.gatewayUrl.replace(/\/graphql$/, '/console/'));
    const token = await mintToken({ ...auth, subject: 'bench-operator', role: 'operations', expiresIn: '1h' });
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.getByText('● live').waitFor();

    const toInbox: number[] = [];
    const outOfInbox: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { record: account } = await stack.stores.crm.upsertAccount({
        externalId: `bench-console-${i}`,
        name: `Bench Client ${i} Ltd`,
        industry: 'Retail',
        billingCountry: 'GB',
        parentAccountId: null,
        owner: null,
      });
      const { record: opportunity } = await stack.stores.crm.upsertOpportunity(
        benchDeal(`bench-console-opp-${i}`, account.id, i),
      );
      const runId = (
        await post('mutation($id: ID!) { convertOpportunityToProject(input: { opportunityId: $id }) { id } }', {
          id: opportunity.id,
        })
      ).convertOpportunityToProject.id as string;
      if (!stopped.has(runId)) await new Promise<void>((resolve) => waiters.set(runId, resolve));
      const card = page.locator(`li.exception[data-run-id="${runId}"]`);
      await card.waitFor({ timeout: 30_000 });
      toInbox.push(Date.now() - stopped.get(runId)!);
      await post('mutation($id: ID!) { retryRunWithInput(id: $id, patch: { taxJurisdiction: "GB" }) { id } }', {
        id: runId,
      });
      const retried = Date.now();
      await card.waitFor({ state: 'detached', timeout: 30_000 });
      outOfInbox.push(Date.now() - retried);
    }
    const line = (label: string, ms: number[]) =>
      console.log(
        `${label.padEnd(44)} p50 ${percentile(ms, 50)} ms   p95 ${percentile(ms, 95)} ms   max ${Math.max(...ms)} ms`,
      );
    console.log(`${runs} conversions rejected by the ERP, one at a time; the inbox open in Chromium`);
    line('run stopped → exception on the inbox page', toInbox);
    line('retry accepted → exception off the inbox page', outOfInbox);
  } finally {
    await browser.close();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
