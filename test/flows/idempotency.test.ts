import { gql, startTestStack } from '../support/stack';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';

describe('conversion idempotency', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 50 } });
  });
  afterAll(() => stack.stop());

  const projectsOf = async (opportunityId: string) =>
    (await stack.stores.psa.listProjects({ first: 1000, afterKey: null })).nodes.filter(
      (p) => p.opportunityId === opportunityId,
    );

  it('returns the same run for 100 repeats of one key, with identical responses and one project', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const responses = [];
    for (let i = 0; i < 100; i++) responses.push(await convert(stack.gatewayUrl, opportunityId, 'key-repeat-1'));
    const first = responses[0]!.data!.convertOpportunityToProject;
    await waitForRun(stack, first.id, ['SUCCEEDED']);
    expect(new Set(responses.map((r) => r.data!.convertOpportunityToProject.id))).toEqual(new Set([first.id]));
    expect(responses.every((r) => r.errors === undefined)).toBe(true);
    expect(await projectsOf(opportunityId)).toHaveLength(1);
    expect((await stack.stores.ledger.listRuns({ first: 1000, afterKey: null }, { opportunityId })).totalCount).toBe(1);
  });

  it('refuses the same key with another input with IDEMPOTENCY_KEY_REUSED, naming the first run', async () => {
    const a = await createWonOpportunity(stack.gatewayUrl);
    const b = await createWonOpportunity(stack.gatewayUrl);
    const first = (await convert(stack.gatewayUrl, a.opportunityId, 'key-reuse-1')).data!.convertOpportunityToProject;
    const reused = await convert(stack.gatewayUrl, b.opportunityId, 'key-reuse-1');
    expect(reused).toEqual({
      data: null,
      errors: [
        {
          message: `The idempotency key 'key-reuse-1' was already used with a different input (run ${first.id})`,
          path: ['convertOpportunityToProject'],
          extensions: {
            code: 'IDEMPOTENCY_KEY_REUSED',
            system: 'orchestration',
            runId: first.id,
            field: 'idempotencyKey',
          },
        },
      ],
    });
    await waitForRun(stack, first.id, ['SUCCEEDED']);
  });

  it('executes 50 concurrent calls with one key once', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => convert(stack.gatewayUrl, opportunityId, 'key-concurrent-1')),
    );
    const ids = new Set(responses.map((r) => r.data?.convertOpportunityToProject.id));
    expect(ids.size).toBe(1);
    await waitForRun(stack, [...ids][0]!, ['SUCCEEDED']);
    expect(await projectsOf(opportunityId)).toHaveLength(1);
  });

  it('returns the existing run for a second conversion of a converted opportunity, with or without a key', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const first = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject;
    await waitForRun(stack, first.id, ['SUCCEEDED']);
    expect((await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id).toBe(first.id);
    expect((await convert(stack.gatewayUrl, opportunityId, 'key-late-1')).data!.convertOpportunityToProject.id).toBe(
      first.id,
    );
    expect(await projectsOf(opportunityId)).toHaveLength(1);
    const conversion = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { opportunity(id: $id) { conversion { id status } } }',
      { id: opportunityId },
    );
    expect(conversion.body).toEqual({ data: { opportunity: { conversion: { id: first.id, status: 'SUCCEEDED' } } } });
  });
});
