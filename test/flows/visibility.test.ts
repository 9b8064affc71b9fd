import { gql, startTestStack } from '../support/stack';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';

describe('where a deal sits', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  it('traces a conversion from its correlation ID across CRM, PSA and ERP, with the runs touching each record', async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED']);
    const projectId = (run.steps[2]!.output as { projectId: string }).projectId;
    const customerId = (run.steps[1]!.output as { customerId: string }).customerId;
    const { body } = await gql(
      stack.gatewayUrl,
      `query($c: ID!) { trace(correlationId: $c) {
          run { id status triggeredBy }
          account { id name customer { id } syncRuns { id } }
          opportunity { id stage conversion { id } }
          project { id code invoices { id } syncRuns { id flow } }
          links { system externalId }
      } }`,
      { c: run.correlationId },
    );
    expect(body).toEqual({
      data: {
        trace: {
          run: { id: runId, status: 'SUCCEEDED', triggeredBy: 'test-service' },
          account: {
            id: accountId,
            name: expect.stringMatching(/^Test Client/),
            customer: { id: customerId },
            syncRuns: [{ id: runId }],
          },
          opportunity: { id: opportunityId, stage: 'CLOSED_WON', conversion: { id: runId } },
          project: {
            id: projectId,
            code: expect.stringMatching(/^DAT-/),
            invoices: [],
            syncRuns: [{ id: runId, flow: 'convertOpportunityToProject' }],
          },
          links: [
            { system: 'PSA', externalId: projectId },
            { system: 'ERP', externalId: customerId },
            { system: 'ERP', externalId: expect.stringMatching(/^DAT-/) },
          ],
        },
      },
    });
    // The run ID works as well as its correlation ID; an unknown one is null.
    const byRunId = await gql(
      stack.gatewayUrl,
      'query($c: ID!) { trace(correlationId: $c) { run { id } } nope: trace(correlationId: "nope") { run { id } } }',
      { c: runId },
    );
    expect(byRunId.body).toEqual({ data: { trace: { run: { id: runId } }, nope: null } });
  });

  it('lists runs by flow and status, a page at a time, and refuses a bad page size', async () => {
    const first = await gql(
      stack.gatewayUrl,
      '{ syncRuns(filter: { flow: "convertOpportunityToProject", status: SUCCEEDED }, first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { flow status } } }',
    );
    expect(first.body.data!.syncRuns).toMatchObject({
      totalCount: expect.any(Number),
      nodes: [{ flow: 'convertOpportunityToProject', status: 'SUCCEEDED' }],
    });
    const bad = await gql(stack.gatewayUrl, '{ syncRuns(first: -5) { totalCount } }');
    expect(bad.body.errors?.map((e) => [e.extensions?.code, e.extensions?.system])).toEqual([
      ['BAD_USER_INPUT', 'orchestration'],
    ]);
  });

  it('lists runs newest first by default, oldest first on request, each page resuming where the last ended', async () => {
    const started: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
      started.push((await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id);
    }
    const page = async (orderBy: string, after: string | null) =>
      (
        await gql(
          stack.gatewayUrl,
          'query($orderBy: CreationOrder, $after: String) { syncRuns(first: 2, orderBy: $orderBy, after: $after) { pageInfo { endCursor hasNextPage } nodes { id } } }',
          { orderBy, after },
        )
      ).body;
    const newest = await page('NEWEST_FIRST', null);
    expect(newest.data!.syncRuns.nodes.map((r: { id: string }) => r.id)).toEqual([started[2], started[1]]);
    const next = await page('NEWEST_FIRST', newest.data!.syncRuns.pageInfo.endCursor);
    expect(next.data!.syncRuns.nodes[0].id).toBe(started[0]);
    const oldest = await page('OLDEST_FIRST', null);
    expect(oldest.data!.syncRuns.nodes.map((r: { id: string }) => r.id)).not.toContain(started[2]);
    // A cursor of one order is refused by the other, as is one made up.
    for (const after of [
      newest.data!.syncRuns.pageInfo.endCursor,
      Buffer.from('syncRuns.OLDEST_FIRST:x').toString('base64url'),
    ]) {
      const refused = await page('OLDEST_FIRST', after);
      expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['INVALID_CURSOR']);
    }
  });
});
