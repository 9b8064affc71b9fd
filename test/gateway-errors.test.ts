import { startTestStack, gql } from './support/stack';
import { captureLogs } from './support/log-capture';

describe('gateway: bad input gets a coded error and the gateway keeps serving', () => {
  const logs = captureLogs();
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ logger: logs.logger });
  });
  afterAll(() => stack.stop());

  it('answers an unknown ID with null, and an unknown ID in a non-null mutation result with NOT_FOUND', async () => {
    expect(
      (
        await gql(
          stack.gatewayUrl,
          '{ account(id: "ACC-999999") { name } project(id: "nope") { code } invoice(id: "x") { number } }',
        )
      ).body,
    ).toEqual({
      data: { account: null, project: null, invoice: null },
    });
    const closed = await gql(stack.gatewayUrl, 'mutation { closeOpportunity(id: "OPP-nope", outcome: WON) { stage } }');
    expect(closed.body).toEqual({
      data: null,
      errors: [
        {
          message: "CRM has no opportunity 'OPP-nope'",
          path: ['closeOpportunity'],
          extensions: { code: 'NOT_FOUND', system: 'crm', value: 'OPP-nope' },
        },
      ],
    });
  });

  it('refuses a malformed document with GRAPHQL_PARSE_FAILED and an unknown field with GRAPHQL_VALIDATION_FAILED', async () => {
    const parse = await gql(stack.gatewayUrl, '{ accounts(first: 2 { nodes { name } }');
    expect(parse.status).toBe(400);
    expect(parse.body.errors?.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_PARSE_FAILED']);
    const validation = await gql(stack.gatewayUrl, '{ accounts { nodes { nmae } } }');
    expect(validation.status).toBe(400);
    expect(validation.body.errors?.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(validation.body.errors?.[0]?.message).toMatch(/Cannot query field "nmae" on type "Account"/);
  });

  it('refuses a negative page size, one over the maximum, and a foreign cursor, naming the argument', async () => {
    const negative = await gql(stack.gatewayUrl, '{ accounts(first: -1) { totalCount } }');
    expect(negative.body).toEqual({
      data: null,
      errors: [
        {
          message: 'first must be between 0 and 1000; got -1',
          path: ['accounts'],
          extensions: { code: 'BAD_USER_INPUT', system: 'crm', field: 'first', value: '-1' },
        },
      ],
    });
    const over = await gql(stack.gatewayUrl, '{ projects(first: 1001) { totalCount } }');
    expect(over.body.errors?.map((e) => [e.extensions?.code, e.extensions?.field, e.path])).toEqual([
      ['BAD_USER_INPUT', 'first', ['projects']],
    ]);
    const cursor = await gql(stack.gatewayUrl, '{ page: accounts(first: 1) { pageInfo { endCursor } } }');
    const foreign = await gql(stack.gatewayUrl, 'query($after: String) { invoices(after: $after) { totalCount } }', {
      after: cursor.body.data?.page.pageInfo.endCursor,
    });
    expect(foreign.body.errors?.map((e) => e.extensions?.code)).toEqual(['INVALID_CURSOR']);
  });

  it('refuses variables of the wrong type with BAD_USER_INPUT before calling any subgraph', async () => {
    const response = await gql(stack.gatewayUrl, 'query($n: Int) { accounts(first: $n) { totalCount } }', { n: 'ten' });
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a body that is not JSON, or too large, with BAD_REQUEST', async () => {
    const notJson = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect([notJson.status, await notJson.json()]).toEqual([
      400,
      { errors: [{ message: 'The request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] },
    ]);
    const huge = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename }${' '.repeat(1024 * 1024)}` }),
    });
    expect([huge.status, await huge.json()]).toEqual([
      413,
      { errors: [{ message: 'The request body exceeds 1048576 bytes', extensions: { code: 'BAD_REQUEST' } }] },
    ]);
    expect((await gql(stack.gatewayUrl, '{ accounts(first: 1) { totalCount } }')).body).toEqual({
      data: { accounts: { totalCount: 12 } },
    });
  });

  it('mints its own request ID, passes it to every subgraph and logs one line per request with it', async () => {
    const response = await gql(
      stack.gatewayUrl,
      'query BiAccounts { accounts(first: 2) { nodes { name projects { code } invoices { number } } } }',
      undefined,
      { 'x-request-id': 'req-test-42' },
    );
    // The caller's ID is not ours: a caller could otherwise reuse another's ID and mix its calls into their trail.
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const lines = logs.lines.filter((l) => l.requestId === requestId && l.msg === 'graphql request');
    expect(lines.map((l) => l.service).sort()).toEqual(['crm', 'erp', 'gateway', 'psa']);
    const gatewayLine = lines.find((l) => l.service === 'gateway')!;
    expect(gatewayLine).toMatchObject({ operationName: 'BiAccounts', durationMs: expect.any(Number) });
  });

  it("keeps the caller's request ID beside ours in the audit log of a run it started", async () => {
    const response = await gql(
      stack.gatewayUrl,
      'mutation($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id } }',
      { input: { opportunityId: 'OPP-999999', idempotencyKey: `caller-id-${process.pid}` } },
      { 'x-request-id': 'caller-req-7' },
    );
    const ours = response.headers.get('x-request-id');
    const runId = response.body.data!.convertOpportunityToProject.id;
    const audit = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { syncRun(id: $id) { audit { action correlationId callerRequestId } } }',
      {
        id: runId,
      },
    );
    expect(audit.body.data!.syncRun.audit[0]).toEqual({
      action: 'RUN_CREATED',
      correlationId: ours,
      callerRequestId: 'caller-req-7',
    });
  });

  it('reports live at /healthz and ready at /readyz while every subgraph answers', async () => {
    const base = stack.gatewayUrl.replace('/graphql', '');
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([
      200,
      { status: 'ready', subgraphs: { crm: 'up', psa: 'up', erp: 'up', orchestration: 'up' } },
    ]);
  });
});

describe('gateway: a subgraph that is down', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack();
    await stack.stopSubgraph('psa');
  });
  afterAll(() => stack.stop());

  it('answers with the other subgraphs data and SUBGRAPH_UNAVAILABLE naming the missing one', async () => {
    const response = await gql(
      stack.gatewayUrl,
      '{ account(id: "ACC-000001") { name projects { code } customer { customerNumber } } }',
    );
    expect(response.body).toEqual({
      data: { account: { name: expect.any(String), projects: null, customer: { customerNumber: 'C100001' } } },
      errors: [
        {
          message: 'The psa subgraph did not answer; its fields are null in this response',
          path: ['account'],
          extensions: { code: 'SUBGRAPH_UNAVAILABLE', system: 'psa' },
        },
      ],
    });
  });

  it('stays ready at /readyz (it can serve the other subgraphs), naming the subgraph that is down, and live at /healthz', async () => {
    const base = stack.gatewayUrl.replace('/graphql', '');
    const ready = await fetch(`${base}/readyz`);
    const body = (await ready.json()) as { status: string; subgraphs: Record<string, string> };
    expect([ready.status, body.status, body.subgraphs.psa?.startsWith('down'), body.subgraphs.crm]).toEqual([
      200,
      'ready',
      true,
      'up',
    ]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
