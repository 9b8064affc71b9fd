import { MAX_OPERATION_NAMES, operationNameLabel } from '../lib/metrics/graphql-metrics-plugin';
import { startMetricsServer } from '../lib/metrics/metrics-route';
import { metricsUrl, scrape } from './support/metrics';
import { convert, createWonOpportunity, waitForRun } from './support/runs';
import { gql, startTestStack } from './support/stack';
import { subscribe, wsClient } from './support/ws-client';

const FLOW = 'convertOpportunityToProject';

describe('/metrics', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 50 } });
  });
  afterAll(() => stack.stop());

  it('serves Prometheus text on the gateway and every subgraph, with Node process metrics and conventional names', async () => {
    for (const url of [stack.gatewayUrl, ...Object.values(stack.urls)]) {
      const page = await scrape(metricsUrl(url));
      expect(page.families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
      expect(page.families.has('nodejs_eventloop_lag_seconds')).toBe(true);
      for (const family of page.families.values()) {
        if (!family.name.startsWith('meridian_')) continue;
        if (family.type === 'counter') expect(family.name).toMatch(/_total$/);
        if (family.type === 'histogram') expect(family.name).toMatch(/_seconds$/);
        for (const sample of family.samples)
          for (const value of Object.values(sample.labels)) expect(value).not.toMatch(/^(RUN|OPP|ACC|EXC)-/);
      }
    }
  });

  it('counts one conversion: one run started and finished SUCCEEDED, its steps, the gateway operations and subgraph fetches', async () => {
    const before = await scrape(metricsUrl(stack.gatewayUrl));
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    expect((await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    const after = await scrape(metricsUrl(stack.gatewayUrl));
    const delta = (name: string, labels: Record<string, string> = {}) =>
      after.value(name, labels) - before.value(name, labels);

    expect(delta('meridian_runs_started_total', { flow: FLOW })).toBe(1);
    expect(delta('meridian_runs_finished_total', { flow: FLOW, status: 'SUCCEEDED' })).toBe(1);
    expect(delta('meridian_runs_finished_total')).toBe(1);
    // Its lead time, from creation to success, is in the histogram once.
    const leadTime = (page: typeof after) =>
      page.histogram('meridian_run_lead_time_seconds', { flow: FLOW, status: 'SUCCEEDED' });
    expect(leadTime(after).count - leadTime(before).count).toBe(1);
    expect({
      crm: delta('meridian_step_attempts_total', { system: 'crm', error_class: 'none' }),
      psa: delta('meridian_step_attempts_total', { system: 'psa', error_class: 'none' }),
      erp: delta('meridian_step_attempts_total', { system: 'erp', error_class: 'none' }),
    }).toEqual({ crm: 2, psa: 1, erp: 2 });
    // upsertAccount, upsertOpportunity, convertOpportunityToProject: anonymous mutations from the test client.
    expect(
      delta('meridian_gateway_requests_total', {
        operation_name: 'anonymous',
        operation_type: 'mutation',
        outcome: 'success',
      }),
    ).toBe(3);
    const mutations = (page: typeof after) =>
      page.histogram('meridian_gateway_request_duration_seconds', { operation_type: 'mutation', outcome: 'success' });
    expect(mutations(after).count - mutations(before).count).toBe(3);
    expect(mutations(after).sum).toBeGreaterThan(mutations(before).sum);
    const fetches = (page: typeof after, subgraph: string) =>
      page.histogram('meridian_gateway_subgraph_fetch_duration_seconds', { subgraph }).count;
    expect(fetches(after, 'crm') - fetches(before, 'crm')).toBe(2);
    expect(fetches(after, 'orchestration') - fetches(before, 'orchestration')).toBe(1);
  });

  it('labels operations by name, type and outcome, bounded to well-formed names', async () => {
    const before = await scrape(metricsUrl(stack.gatewayUrl));
    await gql(stack.gatewayUrl, 'query Accounts { accounts(first: 1) { totalCount } }');
    await gql(stack.gatewayUrl, 'query Broken { nope }');
    await gql(stack.gatewayUrl, '{ __typename }');
    const after = await scrape(metricsUrl(stack.gatewayUrl));
    const delta = (labels: Record<string, string>) =>
      after.value('meridian_gateway_requests_total', labels) - before.value('meridian_gateway_requests_total', labels);
    expect(delta({ operation_name: 'Accounts', operation_type: 'query', outcome: 'success' })).toBe(1);
    expect(delta({ operation_name: 'Broken', operation_type: 'query', outcome: 'error' })).toBe(1);
    expect(delta({ operation_name: 'anonymous', operation_type: 'query', outcome: 'success' })).toBe(1);
  });

  it('counts throttled system calls with their Retry-After, and the failed attempt by error class', async () => {
    const before = await scrape(metricsUrl(stack.gatewayUrl));
    stack.stores.erp.faults.set({ throttleRate: 1, retryAfterMs: 1500 });
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    await waitForRun(stack, runId, ['WAITING_RETRY']);
    stack.stores.erp.faults.set({});
    expect((await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    const after = await scrape(metricsUrl(stack.gatewayUrl));
    expect(
      after.value('meridian_system_calls_throttled_total', { system: 'erp' }) -
        before.value('meridian_system_calls_throttled_total', { system: 'erp' }),
    ).toBe(1);
    const retryAfter = (page: typeof after) =>
      page.histogram('meridian_system_call_retry_after_seconds', { system: 'erp' });
    expect(retryAfter(after).count - retryAfter(before).count).toBe(1);
    expect(retryAfter(after).sum - retryAfter(before).sum).toBeCloseTo(1.5);
    expect(
      after.value('meridian_step_attempts_total', { system: 'erp', error_class: 'RATE_LIMITED' }) -
        before.value('meridian_step_attempts_total', { system: 'erp', error_class: 'RATE_LIMITED' }),
    ).toBe(1);
  });

  it('reports open exceptions by class from the ledger', async () => {
    const before = await scrape(metricsUrl(stack.urls.orchestration));
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { deliveryRegion: null });
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    await waitForRun(stack, runId, ['EXCEPTION']);
    const after = await scrape(metricsUrl(stack.urls.orchestration));
    expect(
      after.value('meridian_exceptions_open', { class: 'BAD_VALUE' }) -
        before.value('meridian_exceptions_open', { class: 'BAD_VALUE' }),
    ).toBe(1);
    expect(
      after.value('meridian_run_queue_depth', { status: 'EXCEPTION' }) -
        before.value('meridian_run_queue_depth', { status: 'EXCEPTION' }),
    ).toBe(1);
    expect(
      after.value('meridian_runs_finished_total', { flow: FLOW, status: 'EXCEPTION' }) -
        before.value('meridian_runs_finished_total', { flow: FLOW, status: 'EXCEPTION' }),
    ).toBe(1);
    expect(
      after.value('meridian_exceptions_raised_total', { flow: FLOW, error_class: 'BAD_VALUE' }) -
        before.value('meridian_exceptions_raised_total', { flow: FLOW, error_class: 'BAD_VALUE' }),
    ).toBe(1);

    // A person resolves it: one manual touch, and the exception is no longer open.
    const exceptionId = (
      await gql(stack.gatewayUrl, 'query($id: ID!) { syncRun(id: $id) { exception { id } } }', { id: runId })
    ).body.data!.syncRun.exception.id;
    const resolved = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { resolveException(id: $id, note: "Region fixed in the CRM by hand") { status } }',
      { id: exceptionId },
    );
    expect(resolved.body.data!.resolveException.status).toBe('RESOLVED');
    const touched = await scrape(metricsUrl(stack.urls.orchestration));
    expect(
      touched.value('meridian_manual_touches_total', { flow: FLOW, action: 'resolve' }) -
        before.value('meridian_manual_touches_total', { flow: FLOW, action: 'resolve' }),
    ).toBe(1);
    expect(
      touched.value('meridian_exceptions_open', { class: 'BAD_VALUE' }) -
        before.value('meridian_exceptions_open', { class: 'BAD_VALUE' }),
    ).toBe(0);
  });

  it('counts open subscriptions and the payloads delivered, and an ended subscription no longer counts', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { deliveryRegion: null });
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    await waitForRun(stack, runId, ['EXCEPTION']);
    const before = await scrape(metricsUrl(stack.gatewayUrl));
    const client = wsClient(stack.gateway.wsUrl);
    try {
      // The run waits for a person: its subscriber gets the current state, and the subscription stays open.
      const subscription = subscribe(client, `subscription { syncRunUpdated(id: "${runId}") { id status } }`);
      await subscription.received(1);
      const open = await scrape(metricsUrl(stack.gatewayUrl));
      const delta = (name: string) => open.value(name) - before.value(name);
      expect(delta('meridian_gateway_subscriptions_open')).toBe(1);
      expect(delta('meridian_gateway_subscription_payloads_total')).toBe(1);
      subscription.unsubscribe();
      // The server counts the end when it handles the client's `complete`: look again until it has.
      let closed = open;
      for (
        let look = 0;
        look < 500 &&
        closed.value('meridian_gateway_subscriptions_open') !== before.value('meridian_gateway_subscriptions_open');
        look++
      )
        closed = await scrape(metricsUrl(stack.gatewayUrl));
      expect(closed.value('meridian_gateway_subscriptions_open')).toBe(
        before.value('meridian_gateway_subscriptions_open'),
      );
    } finally {
      await client.dispose();
    }
  });

  it('reads the queue and the outbox from the ledger at each scrape: queued runs, the oldest one, unpublished events', async () => {
    await stack.worker!.stop();
    await stack.relay!.stop();
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    await convert(stack.gatewayUrl, opportunityId);
    const page = await scrape(metricsUrl(stack.urls.orchestration));
    expect(page.value('meridian_run_queue_depth', { status: 'QUEUED' })).toBe(1);
    expect(page.value('meridian_run_queue_depth', { status: 'RUNNING' })).toBe(0);
    expect(page.value('meridian_run_queue_oldest_age_seconds')).toBeGreaterThan(0);
    expect(page.value('meridian_outbox_pending_events')).toBeGreaterThanOrEqual(1);
    expect(page.value('meridian_outbox_oldest_pending_age_seconds')).toBeGreaterThan(0);
  });

  it('serves /metrics alone on its own port (METRICS_PORT) and 404 elsewhere', async () => {
    const server = await startMetricsServer(0);
    try {
      const page = await scrape(`http://127.0.0.1:${server.port}/metrics`);
      expect(page.families.has('meridian_runs_finished_total')).toBe(true);
      const other = await fetch(`http://127.0.0.1:${server.port}/graphql`);
      expect(other.status).toBe(404);
      expect(((await other.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
        'NOT_FOUND',
      );
    } finally {
      await server.close();
    }
  });
});

describe('operationNameLabel', () => {
  it('reports well-formed names as given up to the bound, the rest as other, none as anonymous', () => {
    const seen = new Set<string>();
    expect(operationNameLabel('Accounts', seen)).toBe('Accounts');
    expect(operationNameLabel(null, seen)).toBe('anonymous');
    expect(operationNameLabel('RUN-0001 {', seen)).toBe('other');
    for (let i = seen.size; i < MAX_OPERATION_NAMES; i++) operationNameLabel(`Op${i}`, seen);
    expect(operationNameLabel('OneTooMany', seen)).toBe('other');
    expect(operationNameLabel('Accounts', seen)).toBe('Accounts');
    expect(seen.size).toBe(MAX_OPERATION_NAMES);
  });
});
