import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeIdentity, identityOf, IDENTITY_HEADER, ORCHESTRATION_SERVICE } from '../../lib/auth/identity';
import { signRequest } from '../../lib/auth/signing';
import { silentLogger } from '../../lib/logger';
import { money } from '../../lib/money';
import { startSubgraph, type RunningSubgraph } from '../../lib/subgraph';
import { generateAccounts } from '../../seed/generate';
import { PROJECT_TEMPLATES, RATE_CARDS, RESOURCES } from '../../seed/reference-data';
import type { MilestoneRecord, ProjectRecord } from '../../subgraphs/psa/connector/psa-connector';
import { SqlitePsaConnector } from '../../subgraphs/psa/connector/reference/sqlite-psa-connector';
import { createPsaSubgraph } from '../../subgraphs/psa/index';
import { signedGql } from '../support/signed';
import type { GraphQLResponse } from '../support/stack';

/** The secret the PSA subgraph under test shares with the gateway and the orchestration. */
const SECRET = 'tenant-psa-test-secret';
/** Demo accounts seeded: enough that the other accounts hold hundreds of projects and milestones. */
const ACCOUNTS = 200;
/** The portal user's one account: two projects, one of them fixed-fee with three milestones. */
const OWN_ACCOUNT = 'ACC-000002';
/** How many IDs each route is tried with. */
const PROBES = 1000;
/** Aliased fields per request, so the probes travel in a few requests. */
const PER_REQUEST = 100;

const PORTAL = identityOf('portal-user-1', 'portal', [], [OWN_ACCOUNT]);

/** `ids` repeated in order until there are `n` of them. */
function repeatTo<T>(ids: readonly T[], n: number): T[] {
  return Array.from({ length: n }, (_, i) => ids[i % ids.length]!);
}

/** `items` in chunks of `size`. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** A query selecting `field(<arg>: <id>) <selection>` once per ID, aliased `r0`, `r1`, …. */
function aliased(field: string, arg: (id: string) => string, selection: string, ids: readonly string[]): string {
  return `{ ${ids.map((id, i) => `r${i}: ${field}(${arg(id)}) ${selection}`).join(' ')} }`;
}

/** `{ r0: value, r1: value, … }` for `n` aliases. */
function everyAlias(n: number, value: unknown): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`r${i}`, value]));
}

/** Every `id` value anywhere in a response's data: what the caller was shown. */
function idsIn(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) idsIn(item, into);
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'id' && typeof inner === 'string') into.push(inner);
      else idsIn(inner, into);
    }
  }
  return into;
}

/** Status and body only: the request ID header differs per request by design. */
function comparable(response: GraphQLResponse): { status: number; body: unknown } {
  return { status: response.status, body: response.body };
}

describe('PSA subgraph: tenant isolation, field access and request signatures', () => {
  const data = generateAccounts(1, ACCOUNTS + 1).psa;
  const ownProjects = data.projects.filter((p) => p.accountId === OWN_ACCOUNT);
  const ownProjectIds = new Set(ownProjects.map((p) => p.id));
  const ownMilestones = data.milestones
    .filter((m) => ownProjectIds.has(m.projectId))
    .sort((a, b) => a.id.localeCompare(b.id));
  const foreignProjects = data.projects.filter((p) => p.accountId !== OWN_ACCOUNT);
  const foreignMilestones = data.milestones.filter((m) => !ownProjectIds.has(m.projectId));
  const foreignAccounts = [...new Set(foreignProjects.map((p) => p.accountId))];
  const absent = (prefix: string, width: number, n: number) =>
    Array.from({ length: n }, (_, i) => `${prefix}-9${String(i).padStart(width - 1, '0')}`);
  // Existing foreign IDs (repeated as needed) and IDs that were never issued, interleaved, 1,000 of each kind.
  const probe = (foreign: readonly string[], missing: readonly string[]) =>
    repeatTo(foreign, PROBES / 2).flatMap((id, i) => [id, missing[i]!]);
  const projectProbes = probe(
    foreignProjects.map((p) => p.id),
    absent('PRJ', 7, PROBES / 2),
  );
  const milestoneProbes = probe(
    foreignMilestones.map((m) => m.id),
    absent('MS', 8, PROBES / 2),
  );
  const accountProbes = probe(foreignAccounts, absent('ACC', 6, PROBES / 2));
  /** IDs the portal user may be shown: its account, its projects and their milestones. */
  const ownIds = new Set([OWN_ACCOUNT, ...ownProjectIds, ...ownMilestones.map((m) => m.id)]);

  let dir: string;
  let subgraph: RunningSubgraph;
  const asPortal = <T = any>(query: string, variables?: Record<string, unknown>) =>
    signedGql<T>(subgraph.url, SECRET, query, variables, PORTAL);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-tenant-psa-'));
    const psa = new SqlitePsaConnector(join(dir, 'psa.db'));
    psa.seedReferenceData({ rateCards: RATE_CARDS, templates: PROJECT_TEMPLATES, resources: RESOURCES });
    psa.seed(data);
    subgraph = await startSubgraph(createPsaSubgraph({ psa, onClose: () => psa.close() }), {
      port: 0,
      logger: silentLogger(),
      signature: { secret: SECRET },
    });
  });
  afterAll(async () => {
    await subgraph.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('seeds other accounts with hundreds of projects and milestones, and the portal account with its own', () => {
    expect(foreignProjects.length).toBeGreaterThan(200);
    expect(foreignMilestones.length).toBeGreaterThan(200);
    expect(ownProjects.map((p) => p.id)).toEqual(['PRJ-0000023', 'PRJ-0000024']);
    expect(ownMilestones.map((m) => m.id)).toEqual(['MS-00000241', 'MS-00000242', 'MS-00000243']);
    expect([projectProbes.length, milestoneProbes.length, accountProbes.length]).toEqual([PROBES, PROBES, PROBES]);
  });

  describe('a portal user trying 1,000 IDs of other accounts, and IDs that do not exist, gets no record', () => {
    const shown: string[] = [];
    afterAll(() => {
      // Whatever a probe returned, nothing outside the portal's own account was ever shown.
      expect(shown.filter((id) => !ownIds.has(id))).toEqual([]);
    });

    it('through project(id), with its milestones and account', async () => {
      for (const ids of chunks(projectProbes, PER_REQUEST)) {
        const response = await asPortal(
          aliased(
            'project',
            (id) => `id: ${JSON.stringify(id)}`,
            '{ id code name milestones { id name } account { id } }',
            ids,
          ),
        );
        shown.push(...idsIn(response.body.data));
        expect(comparable(response)).toEqual({ status: 200, body: { data: everyAlias(ids.length, null) } });
      }
    });

    it('through milestone(id), with its project', async () => {
      for (const ids of chunks(milestoneProbes, PER_REQUEST)) {
        const response = await asPortal(
          aliased(
            'milestone',
            (id) => `id: ${JSON.stringify(id)}`,
            '{ id name amount { amount currency } project { id name } }',
            ids,
          ),
        );
        shown.push(...idsIn(response.body.data));
        expect(comparable(response)).toEqual({ status: 200, body: { data: everyAlias(ids.length, null) } });
      }
    });

    it('through projects(filter: { accountId }), which counts none', async () => {
      const empty = { totalCount: 0, pageInfo: { endCursor: null, hasNextPage: false }, nodes: [] };
      for (const ids of chunks(accountProbes, PER_REQUEST)) {
        const selection = '{ totalCount pageInfo { endCursor hasNextPage } nodes { id milestones { id } } }';
        const response = await asPortal(
          aliased('projects', (id) => `first: 1000, filter: { accountId: ${JSON.stringify(id)} }`, selection, ids),
        );
        shown.push(...idsIn(response.body.data));
        expect(comparable(response)).toEqual({ status: 200, body: { data: everyAlias(ids.length, empty) } });
      }
    });

    it('through raw _entities for Project', async () => {
      const query =
        'query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Project { id code name milestones { id } account { id } } } }';
      const response = await asPortal(query, {
        representations: projectProbes.map((id) => ({ __typename: 'Project', id })),
      });
      shown.push(...idsIn(response.body.data));
      expect(comparable(response)).toEqual({
        status: 200,
        body: { data: { _entities: projectProbes.map(() => null) } },
      });
    });

    it('through raw _entities for Account, selecting its projects', async () => {
      const query =
        'query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Account { id projects { id milestones { id } } } } }';
      const response = await asPortal(query, {
        representations: accountProbes.map((id) => ({ __typename: 'Account', id })),
      });
      shown.push(...idsIn(response.body.data));
      expect(comparable(response)).toEqual({
        status: 200,
        body: { data: { _entities: accountProbes.map(() => null) } },
      });
    });

    it('through the lists without a filter, which hold and count only its own records', async () => {
      const response = await asPortal(
        '{ projects(first: 1000) { totalCount nodes { id } } milestones(first: 1000) { totalCount nodes { id } } }',
      );
      shown.push(...idsIn(response.body.data));
      expect(comparable(response)).toEqual({
        status: 200,
        body: {
          data: {
            projects: { totalCount: 2, nodes: ownProjects.map((p) => ({ id: p.id })) },
            milestones: { totalCount: 3, nodes: ownMilestones.map((m) => ({ id: m.id })) },
          },
        },
      });
    });
  });

  describe('answers an existing foreign ID exactly as an ID that does not exist', () => {
    const foreignProject = foreignProjects[0]!.id;
    const foreignMilestone = foreignMilestones[0]!.id;
    const foreignAccount = foreignAccounts[0]!;
    const cases: [string, string, (id: string) => Record<string, unknown>, string, string][] = [
      [
        'project(id)',
        'query($id: ID!) { project(id: $id) { id name milestones { id } } }',
        (id) => ({ id }),
        foreignProject,
        'PRJ-9999999',
      ],
      [
        'milestone(id)',
        'query($id: ID!) { milestone(id: $id) { id name project { id } } }',
        (id) => ({ id }),
        foreignMilestone,
        'MS-99999999',
      ],
      [
        'projects(filter: { accountId })',
        'query($id: ID!) { projects(filter: { accountId: $id }) { totalCount nodes { id } } }',
        (id) => ({ id }),
        foreignAccount,
        'ACC-999999',
      ],
      [
        '_entities Project',
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id name } } }',
        (id) => ({ r: [{ __typename: 'Project', id }] }),
        foreignProject,
        'PRJ-9999999',
      ],
      [
        '_entities Account',
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { id projects { id } } } }',
        (id) => ({ r: [{ __typename: 'Account', id }] }),
        foreignAccount,
        'ACC-999999',
      ],
    ];

    it.each(cases)('through %s', async (_route, query, variables, existing, missing) => {
      const [foreign, unknown] = await Promise.all([
        asPortal(query, variables(existing)),
        asPortal(query, variables(missing)),
      ]);
      expect(comparable(foreign)).toEqual(comparable(unknown));
      expect(foreign.status).toBe(200);
      expect(foreign.body.errors).toBeUndefined();
    });

    it('while the service identity does see the foreign records (so the IDs above do exist)', async () => {
      const { body } = await signedGql(
        subgraph.url,
        SECRET,
        'query($p: ID!, $m: ID!) { project(id: $p) { id } milestone(id: $m) { id } }',
        { p: foreignProject, m: foreignMilestone },
      );
      expect(body).toEqual({ data: { project: { id: foreignProject }, milestone: { id: foreignMilestone } } });
    });
  });

  describe("returns the portal user's own projects and milestones", () => {
    const project = (p: ProjectRecord) => ({
      id: p.id,
      code: p.code,
      name: p.name,
      status: p.status,
      billingModel: p.billingModel,
      budget: money(p.budgetMinor, p.currency),
      account: { id: OWN_ACCOUNT },
    });
    const milestone = (m: MilestoneRecord) => ({
      id: m.id,
      name: m.name,
      sequence: m.sequence,
      status: m.status,
      amount: money(m.amountMinor, m.currency),
      project: { id: m.projectId },
    });
    const PROJECT = '{ id code name status billingModel budget { amount currency } account { id } }';
    const MILESTONE = '{ id name sequence status amount { amount currency } project { id } }';

    it('through the root fields', async () => {
      const [fixedFee] = ownProjects.filter((p) => p.billingModel === 'FIXED_FEE');
      const response = await asPortal(
        `query($project: ID!, $milestone: ID!, $account: ID!) {
        project(id: $project) ${PROJECT}
        milestone(id: $milestone) ${MILESTONE}
        projects(first: 1, filter: { accountId: $account }) { totalCount pageInfo { hasNextPage } nodes ${PROJECT} }
        milestones(filter: { status: INVOICED }) { totalCount nodes ${MILESTONE} }
      }`,
        { project: fixedFee!.id, milestone: ownMilestones[2]!.id, account: OWN_ACCOUNT },
      );
      const invoiced = ownMilestones.filter((m) => m.status === 'INVOICED');
      expect(invoiced.length).toBeGreaterThan(0);
      expect(comparable(response)).toEqual({
        status: 200,
        body: {
          data: {
            project: project(fixedFee!),
            milestone: milestone(ownMilestones[2]!),
            projects: { totalCount: 2, pageInfo: { hasNextPage: true }, nodes: [project(ownProjects[0]!)] },
            milestones: { totalCount: invoiced.length, nodes: invoiced.map(milestone) },
          },
        },
      });
    });

    it('through _entities for its projects and its account', async () => {
      const response = await asPortal(
        `query($r: [_Any!]!) { _entities(representations: $r) { ... on Project ${PROJECT} ... on Account { id projects { id milestones { id sequence } } } } }`,
        {
          r: [
            ...ownProjects.map((p) => ({ __typename: 'Project', id: p.id })),
            { __typename: 'Account', id: OWN_ACCOUNT },
          ],
        },
      );
      const byProject = (id: string) =>
        ownMilestones
          .filter((m) => m.projectId === id)
          .sort((a, b) => a.sequence - b.sequence)
          .map((m) => ({ id: m.id, sequence: m.sequence }));
      expect(comparable(response)).toEqual({
        status: 200,
        body: {
          data: {
            _entities: [
              ...ownProjects.map(project),
              { id: OWN_ACCOUNT, projects: ownProjects.map((p) => ({ id: p.id, milestones: byProject(p.id) })) },
            ],
          },
        },
      });
    });
  });

  describe('refuses fields the caller has no scope for with FORBIDDEN and the path, before anything runs', () => {
    // A field whose own directive and whose type's directive both ask for the scope may name it twice.
    const forbidden = (what: string, subject: string, role: string, scope: string, path: (string | number)[]) => ({
      status: 403,
      body: {
        errors: [
          {
            message: expect.stringMatching(
              new RegExp(
                `^${what} needs ${scope}(, and ${scope})?, which the ${role} token of ${subject} does not have$`,
              ),
            ),
            path,
            extensions: { code: 'FORBIDDEN' },
          },
        ],
      },
    });
    const ownProject = ownProjects[0]!.id;

    it.each([
      [
        'Project.financials',
        `{ project(id: "${ownProject}") { id financials { billed { amount } } } }`,
        ['project', 'financials'],
      ],
      [
        'Project.rateCard',
        `{ project(id: "${ownProject}") { id rateCard { id rates { role } } } }`,
        ['project', 'rateCard'],
      ],
      [
        'Project.timeEntries',
        `{ project(id: "${ownProject}") { id timeEntries { totalCount } } }`,
        ['project', 'timeEntries'],
      ],
      [
        'Project.financials',
        `{ _entities(representations: [{ __typename: "Project", id: "${ownProject}" }]) { ... on Project { financials { asOf } } } }`,
        ['_entities', 'financials'],
      ],
    ])('a portal user asking %s (%#)', async (what, query, path) => {
      expect(comparable(await asPortal(query))).toEqual(
        forbidden(what, 'portal-user-1', 'portal', 'read:business', path),
      );
    });

    it('a BI reader without read:pii asking a resource cost rate; with read:pii it is served', async () => {
      const query = '{ resource(id: "RES-000001") { id name costRate { amount currency } } }';
      const without = await signedGql(subgraph.url, SECRET, query, undefined, identityOf('bi-reader', 'bi', [], null));
      expect(comparable(without)).toEqual(
        forbidden('Resource.costRate', 'bi-reader', 'bi', 'read:pii', ['resource', 'costRate']),
      );
      const granted = await signedGql(
        subgraph.url,
        SECRET,
        query,
        undefined,
        identityOf('bi-reader', 'bi', ['read:pii'], null),
      );
      const resource = RESOURCES[0]!;
      expect(comparable(granted)).toEqual({
        status: 200,
        body: {
          data: {
            resource: {
              id: resource.id,
              name: resource.name,
              costRate: money(resource.costRateMinor, resource.currency),
            },
          },
        },
      });
    });
  });

  describe('refuses a request that is not signed with its secret with HTTP 401 UNAUTHENTICATED', () => {
    const query = `{ project(id: "${ownProjects[0]!.id}") { id } }`;
    const body = JSON.stringify({ query });
    const post = async (headers: Record<string, string>) => {
      const response = await fetch(subgraph.url, {
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

    it('with no signature', async () => {
      expect(await post({})).toEqual(refused('Subgraphs accept only requests signed by the gateway'));
    });

    it('with a signature made with another secret', async () => {
      expect(comparable(await signedGql(subgraph.url, 'not-the-secret', query, undefined, PORTAL))).toEqual(
        refused('The request signature does not match'),
      );
    });

    it('with a stale timestamp', async () => {
      expect(
        comparable(await signedGql(subgraph.url, SECRET, query, undefined, PORTAL, Date.now() - 10 * 60_000)),
      ).toEqual(refused('The request signature is stale'));
    });

    it('with a portal signature whose identity header was swapped for the service identity', async () => {
      const headers = {
        ...signRequest(SECRET, body, PORTAL),
        [IDENTITY_HEADER]: encodeIdentity(ORCHESTRATION_SERVICE),
      };
      expect(await post(headers)).toEqual(refused('The request signature does not match'));
    });

    it('while the same request properly signed is served', async () => {
      expect(await post(signRequest(SECRET, body, PORTAL))).toEqual({
        status: 200,
        body: { data: { project: { id: ownProjects[0]!.id } } },
      });
    });
  });
});
