import { startTsx, waitForOutput, type Child } from '../support/processes';
import { convert, createWonOpportunity } from '../support/runs';
import { gql, secretEnv, startTestStack } from '../support/stack';

/** Where the worker dies: right after a system call returned (effect applied, not yet committed), or right after a step committed. */
const CRASH_POINTS = [
  'crm.getOpportunity',
  'commit:0',
  'erp.upsertCustomer',
  'commit:1',
  'psa.createProjectFromTemplate',
  'commit:2',
  'erp.upsertProjectDimensions',
  'commit:3',
  'crm.linkOpportunity',
  'commit:4',
];

describe('a worker killed with SIGKILL mid-run', () => {
  const children: Child[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
  });

  async function crashAndRecover(point: string) {
    const stack = await startTestStack({ worker: false, seedAccounts: 2 });
    try {
      const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
      const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
      const env = {
        DATA_DIR: stack.dataDir,
        CRM_URL: stack.urls.crm,
        PSA_URL: stack.urls.psa,
        ERP_URL: stack.urls.erp,
        ...secretEnv(stack.secrets),
        LEASE_MS: '800',
      };
      const doomed = startTsx('test/support/crash-worker.ts', { ...env, CRASH_AT: point });
      children.push(doomed);
      // 'close', not 'exit': the CRASH line can still be in the pipe when the process is reported gone.
      await new Promise<void>((resolve) => doomed.process.once('close', () => resolve()));
      expect([doomed.process.signalCode, doomed.output().includes(`CRASH ${point}`)]).toEqual(['SIGKILL', true]);
      const [afterCrash] = await stack.stores.ledger.getRuns([runId]);
      // Dying right after the last step committed leaves nothing to resume.
      const last = point === `commit:${CRASH_POINTS.length / 2 - 1}`;
      expect(afterCrash!.status).toBe(last ? 'SUCCEEDED' : 'RUNNING');
      if (!last) {
        const survivor = startTsx('test/support/crash-worker.ts', env);
        children.push(survivor);
        await waitForOutput(survivor, new RegExp(`RUN ${runId} (SUCCEEDED|EXCEPTION)`));
        await survivor.stop();
      }
      const [run] = await stack.stores.ledger.getRuns([runId]);
      expect([point, run!.status, run!.steps.map((s) => s.status)]).toEqual([
        point,
        'SUCCEEDED',
        Array(5).fill('SUCCEEDED'),
      ]);

      // Exactly one record per entity in every system, all linked.
      const projects = (await stack.stores.psa.listProjects({ first: 1000, afterKey: null }, { accountId })).nodes;
      expect(projects.map((p) => p.opportunityId)).toEqual([opportunityId]);
      const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
      const [dimensions] = await stack.stores.erp.getProjectDimensions([projects[0]!.id]);
      const [opportunity] = await stack.stores.crm.getOpportunities([opportunityId]);
      expect([dimensions?.customerId, opportunity?.psaProjectId, opportunity?.erpCustomerId]).toEqual([
        customer!.id,
        projects[0]!.id,
        customer!.id,
      ]);
      const links = await stack.stores.ledger.getCrossReferencesByEntity([
        { entityType: 'OPPORTUNITY', canonicalId: opportunityId },
      ]);
      expect(links[0]!.map((l) => [l.system, l.externalId])).toEqual([
        ['PSA', projects[0]!.id],
        ['ERP', customer!.id],
      ]);
    } finally {
      await stack.stop();
    }
  }

  it('resumes every conversion from its last committed step and finishes with one record per entity in every system', async () => {
    // Five at a time: each point has its own systems and ledger, so the points cannot disturb each other.
    for (let i = 0; i < CRASH_POINTS.length; i += 5)
      await Promise.all(CRASH_POINTS.slice(i, i + 5).map(crashAndRecover));
  }, 180_000);

  it('resumes billing mid-batch and bills every time entry exactly once', async () => {
    const stack = await startTestStack({ worker: false, seedAccounts: 4 });
    try {
      const [projectId] = (await stack.stores.psa.listProjectsWithBillableWork({ first: 1, afterKey: null })).nodes.map(
        (p) => p.id,
      );
      const submitted = await stack.stores.psa.submitTimeEntries(
        'crash-bill-1',
        Array.from({ length: 1200 }, (_, i) => ({
          projectId: projectId!,
          resourceId: 'RES-000004',
          role: null,
          date: '2026-10-15',
          hoursHundredths: 100 + i,
          billable: true,
          notes: null,
        })),
      );
      await stack.stores.psa.approveTimeEntries(submitted.map((e) => e.id));
      const ready = (
        await stack.stores.psa.listTimeEntries(
          projectId!,
          { first: 0, afterKey: null },
          { status: 'APPROVED', billable: true },
        )
      ).totalCount;
      const started = await gql<{ billApprovedTime: { id: string } }>(
        stack.gatewayUrl,
        'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }',
        { p: projectId },
      );
      const runId = started.body.data!.billApprovedTime.id;
      const env = {
        DATA_DIR: stack.dataDir,
        CRM_URL: stack.urls.crm,
        PSA_URL: stack.urls.psa,
        ERP_URL: stack.urls.erp,
        ...secretEnv(stack.secrets),
        LEASE_MS: '800',
      };
      // Batch 2 is in the ERP but not yet marked billed in the PSA when the worker dies.
      const doomed = startTsx('test/support/crash-worker.ts', { ...env, CRASH_AT: 'erp.postBillingLines#2' });
      children.push(doomed);
      await new Promise<void>((resolve) => doomed.process.once('close', () => resolve()));
      expect([doomed.process.signalCode, doomed.output().includes('CRASH erp.postBillingLines#2')]).toEqual([
        'SIGKILL',
        true,
      ]);
      const survivor = startTsx('test/support/crash-worker.ts', env);
      children.push(survivor);
      await waitForOutput(survivor, new RegExp(`RUN ${runId} (SUCCEEDED|EXCEPTION)`));
      await survivor.stop();
      const [run] = await stack.stores.ledger.getRuns([runId]);
      expect(run!.status).toBe('SUCCEEDED');
      const [lines] = await stack.stores.erp.getBillingLinesByProject([projectId!]);
      const timeLines = lines!.filter((l) => l.externalId.startsWith('time:'));
      expect(timeLines).toHaveLength(ready);
      expect(new Set(timeLines.map((l) => l.sourceId)).size).toBe(ready);
      expect(
        (
          await stack.stores.psa.listTimeEntries(
            projectId!,
            { first: 0, afterKey: null },
            { status: 'APPROVED', billable: true },
          )
        ).totalCount,
      ).toBe(0);
    } finally {
      await stack.stop();
    }
  }, 60_000);
});
