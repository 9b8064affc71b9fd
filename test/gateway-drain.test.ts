import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { freePorts, startTsx, waitForOutput, type Child } from './support/processes';
import { authHeader, gql, secretEnv, startTestStack, tokenFor } from './support/stack';

/** Holds every CRM connector call while armed, so a request is in flight at the gateway for as long as the test says. */
function createGate() {
  let armed = false;
  let entered: () => void = () => undefined;
  let release: () => void = () => undefined;
  const enteredOnce = new Promise<void>((resolve) => (entered = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    arm: () => (armed = true),
    entered: enteredOnce,
    release: () => release(),
    wrap: <T extends object>(connector: T): T =>
      new Proxy(connector, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            if (armed) {
              entered();
              await released;
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      }),
  };
}

describe('gateway readiness and graceful shutdown (issue 9, part 6)', () => {
  const gate = createGate();
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let gateway: Child;
  let base: string;
  beforeAll(async () => {
    stack = await startTestStack({
      wrapConnector: (system, connector) => (system === 'crm' ? gate.wrap(connector) : connector),
    });
    const [port] = await freePorts(1);
    gateway = startTsx('gateway/main.ts', {
      GATEWAY_PORT: String(port),
      SUBGRAPH_URL_CRM: stack.urls.crm,
      SUBGRAPH_URL_PSA: stack.urls.psa,
      SUBGRAPH_URL_ERP: stack.urls.erp,
      SUBGRAPH_URL_ORCHESTRATION: stack.urls.orchestration,
      ...secretEnv(stack.secrets),
      DRAIN_DEADLINE_MS: '60000',
    });
    await waitForOutput(gateway, /gateway listening/);
    base = `http://127.0.0.1:${port}`;
  }, 60_000);
  afterAll(async () => {
    gate.release();
    await gateway?.stop();
    await stack?.stop();
  });

  it('stays ready with a subgraph down, naming it in the body', async () => {
    await stack.stopSubgraph('erp');
    const ready = await fetch(`${base}/readyz`);
    const body = (await ready.json()) as { status: string; subgraphs: Record<string, string> };
    expect([ready.status, body.status, body.subgraphs.erp?.startsWith('down'), body.subgraphs.crm]).toEqual([
      200,
      'ready',
      true,
      'up',
    ]);
  });

  it('on SIGTERM answers /readyz with 503, closes sockets with 1001, finishes the request in flight, then exits 0', async () => {
    const socket = createClient({
      url: `${base.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      // The close is what this test waits for; the client would also print it.
      onNonLazyError: () => undefined,
      connectionParams: async () => ({ authorization: `Bearer ${await tokenFor('bi')}` }),
    });
    const connected = new Promise<void>((resolve) => socket.on('connected', () => resolve()));
    const closed = new Promise<number>((resolve) => socket.on('closed', (e) => resolve((e as { code: number }).code)));
    await connected;
    gate.arm();
    const inFlight = gql(`${base}/graphql`, '{ account(id: "ACC-000001") { id name } }', {}, await authHeader('bi'));
    await gate.entered;
    const exited = new Promise<number | null>((resolve) => gateway.process.once('exit', resolve));
    gateway.process.kill('SIGTERM');
    await waitForOutput(gateway, /draining: \/readyz answers 503/);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, ((await ready.json()) as { status: string }).status]).toEqual([503, 'draining']);
    expect(await closed).toBe(1001);
    gate.release();
    const answered = await inFlight;
    expect([answered.status, answered.body]).toEqual([
      200,
      { data: { account: { id: 'ACC-000001', name: expect.any(String) } } },
    ]);
    expect(await exited).toBe(0);
    expect(gateway.output()).toMatch(/"outcome":"drained".*"msg":"gateway stopped"/);
    await socket.dispose();
  });
});
