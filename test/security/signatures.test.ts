import { encodeIdentity, identityOf, IDENTITY_HEADER, ORCHESTRATION_SERVICE } from '../../lib/auth/identity';
import { signRequest } from '../../lib/auth/signing';
import type { SubgraphName } from '../../stack/start-stack';
import { signedGql } from '../support/signed';
import { startTestStack } from '../support/stack';

const SUBGRAPHS: SubgraphName[] = ['crm', 'psa', 'erp', 'orchestration'];
const QUERY = JSON.stringify({ query: '{ _service { sdl } }' });

describe('subgraphs accept only requests the gateway signed', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: false });
  });
  afterAll(() => stack.stop());

  const post = async (name: SubgraphName, headers: Record<string, string>, body = QUERY) => {
    const response = await fetch(stack.urls[name], {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const refused = (message: string) => ({
    status: 401,
    body: { errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] },
  });

  it.each(SUBGRAPHS)('%s refuses an unsigned request', async (name) => {
    expect(await post(name, {})).toEqual(refused('Subgraphs accept only requests signed by the gateway'));
  });

  it.each(SUBGRAPHS)('%s refuses a request signed with another secret', async (name) => {
    expect(
      await post(name, signRequest('not-the-subgraph-secret-but-32-chars-long', QUERY, ORCHESTRATION_SERVICE)),
    ).toEqual(refused('The request signature does not match'));
  });

  it.each(SUBGRAPHS)('%s refuses a stale or future timestamp', async (name) => {
    const secret = stack.secrets[name];
    expect(await post(name, signRequest(secret, QUERY, ORCHESTRATION_SERVICE, Date.now() - 61_000))).toEqual(
      refused('The request signature is stale'),
    );
    expect(await post(name, signRequest(secret, QUERY, ORCHESTRATION_SERVICE, Date.now() + 61_000))).toEqual(
      refused('The request signature is stale'),
    );
  });

  it.each(SUBGRAPHS)('%s refuses a signed request whose body or identity was changed on the way', async (name) => {
    const secret = stack.secrets[name];
    const headers = signRequest(secret, QUERY, identityOf('portal-1', 'portal', [], ['ACC-000001']));
    expect(await post(name, headers, JSON.stringify({ query: '{ __typename }' }))).toEqual(
      refused('The request signature does not match'),
    );
    expect(await post(name, { ...headers, [IDENTITY_HEADER]: encodeIdentity(ORCHESTRATION_SERVICE) })).toEqual(
      refused('The request signature does not match'),
    );
  });

  it.each(SUBGRAPHS)('%s serves a correctly signed request', async (name) => {
    const { status, body } = await signedGql(stack.urls[name], stack.secrets[name], '{ _service { sdl } }');
    expect(status).toBe(200);
    expect(body).toEqual({ data: { _service: { sdl: expect.stringContaining('type Query') } } });
  });

  it('enforces the schema directives again at the subgraph for a signed request', async () => {
    const portal = identityOf('portal-1', 'portal', [], ['ACC-000001']);
    const { status, body } = await signedGql(
      stack.urls.orchestration,
      stack.secrets.orchestration,
      'mutation { abandonRun(id: "RUN-000001") { id } }',
      undefined,
      portal,
    );
    expect(status).toBe(403);
    expect(body).toEqual({
      errors: [
        { message: expect.stringContaining('write:flows'), path: ['abandonRun'], extensions: { code: 'FORBIDDEN' } },
      ],
    });
    const anonymous = await signedGql(
      stack.urls.crm,
      stack.secrets.crm,
      '{ accounts { totalCount } }',
      undefined,
      null,
    );
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });
});
