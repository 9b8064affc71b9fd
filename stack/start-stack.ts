import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { randomSecrets } from '../lib/auth/secrets';
import type { GatewayTrust } from '../lib/auth/subgraph-trust';
import type { ResultShaping } from '../gateway/result-shaping/apollo-seam';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET } from '../gateway/auth/auth-from-env';
import type { AuthOptions } from '../gateway/auth/authenticator';
import type { OperationLimits } from '../gateway/plugins/operation-limits';
import { createRateLimiter, type RateLimiter } from '../gateway/plugins/rate-limit';
import {
  DEFAULT_TRUSTED_DOCUMENT_ROLES,
  loadTrustedDocuments,
  type TrustedDocuments,
} from '../gateway/plugins/trusted-documents';
import type { Role } from '../lib/auth/identity';
import { composeSupergraph, loadSupergraphConfig } from '../lib/compose';
import type { EventBus } from '../lib/event-bus/event-bus';
import { createInProcessBus } from '../lib/event-bus/in-process-bus';
import { silentLogger } from '../lib/logger';
import type { FaultSettings } from '../lib/reference-faults';
import { startSubgraph, type RunningSubgraph } from '../lib/subgraph';
import { startGateway, type RunningGateway, type StartGatewayOptions } from '../gateway/start';
import { DEFAULT_DEMO_ACCOUNTS } from '../seed/generate';
import { seedEmptyStores } from '../seed/seed-stores';
import { crmSeedTarget, erpSeedTarget, ledgerSeedTarget, psaSeedTarget } from '../seed/targets';
import type { CrmConnector } from '../subgraphs/crm/connector/crm-connector';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { createCrmSubgraph } from '../subgraphs/crm/index';
import type { ErpConnector } from '../subgraphs/erp/connector/erp-connector';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { createErpSubgraph } from '../subgraphs/erp/index';
import type { Ledger, RunRecord } from '../subgraphs/orchestration/engine/ledger';
import type { OutboxRelay } from '../subgraphs/orchestration/engine/outbox-relay';
import { PgLedger } from '../subgraphs/orchestration/engine/pg-ledger';
import { startEngine, type Engine } from '../subgraphs/orchestration/engine/start-engine';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import type { TriggerPoller } from '../subgraphs/orchestration/engine/triggers';
import { createGraphQLTriggerSources } from '../subgraphs/orchestration/systems/graphql-trigger-sources';
import type { Worker, WorkerOptions } from '../subgraphs/orchestration/engine/worker';
import { FLOWS } from '../subgraphs/orchestration/flows/index';
import { loadGovernance, type Governance } from '../subgraphs/orchestration/governance/governance';
import { createOrchestrationSubgraph } from '../subgraphs/orchestration/index';
import { createGraphQLSystems } from '../subgraphs/orchestration/systems/graphql-systems';
import type { PsaConnector } from '../subgraphs/psa/connector/psa-connector';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';
import { erpInvoicesOverGraphQL } from '../subgraphs/psa/erp-invoices';
import { createPsaSubgraph } from '../subgraphs/psa/index';

/** The subgraphs in supergraph.yaml. */
export type SubgraphName = 'crm' | 'psa' | 'erp' | 'orchestration';

/** Path of the project's supergraph config. */
export const SUPERGRAPH_CONFIG = join(__dirname, '..', 'supergraph.yaml');

/** The embedded reference systems and the ledger, opened on one data folder. */
export interface EmbeddedStores {
  crm: SqliteCrmConnector;
  psa: SqlitePsaConnector;
  erp: SqliteErpConnector;
  /** SQLite in the data folder, or PostgreSQL when `databaseUrl` is given. */
  ledger: Ledger;
}

/** How to run the whole graph in one process. */
export interface StackOptions {
  /** Folder of the SQLite files (crm.db, psa.db, erp.db, orchestration.db); created on first use. */
  dataDir: string;
  /** Demo accounts seeded into empty stores; 0 seeds nothing, not even reference data (production). @default 40 */
  seedAccounts?: number;
  /** Ports by server; 0 (the default) picks an ephemeral one. */
  ports?: Partial<Record<SubgraphName | 'gateway', number>>;
  /** @default 127.0.0.1 */
  host?: string;
  /** @default a silent logger */
  logger?: Logger;
  /** Failures the reference systems start with. */
  faults?: Partial<Record<'crm' | 'psa' | 'erp', FaultSettings>>;
  /** Wraps each connector (and the ledger) before its subgraph gets it (tests count calls through it). */
  wrapConnector?: <T extends object>(system: SubgraphName, connector: T) => T;
  /** Serve this supergraph instead of composing supergraph.yaml's schema files in-process. */
  supergraphSdl?: string;
  /** Called after each seeded chunk of accounts. */
  onSeedProgress?: (done: number, total: number) => void;
  /** The orchestration ledger on PostgreSQL at this URL instead of SQLite in `dataDir` (no demo cross-references seeded). */
  databaseUrl?: string;
  /** Leadership lease of the relay and the trigger poller. @default 10000 */
  leaderLeaseMs?: number;
  /** Run a flow worker in this process. @default true */
  worker?: boolean;
  /** Governance for the flows. @default the checked-in governance.yaml */
  governance?: Governance;
  /** Worker lease and polling, and its source of retry jitter. */
  workerOptions?: Pick<WorkerOptions, 'leaseMs' | 'idlePollMs' | 'random' | 'concurrency'>;
  /**
   * One clock (epoch ms) for the worker's leases and retries and the reference systems' maintenance windows, so a
   * test moves time by hand instead of waiting for it. @default Date.now
   */
  clock?: () => number;
  /** The gateway's graphql-ws limits. @default the gateway's defaults (3 s to `connection_init`, 12 s keep-alive) */
  subscriptions?: StartGatewayOptions['subscriptions'];
  /** Start flows from the systems' state (closed-won deals, approved time, completed milestones, invoice and account changes), every `intervalMs`. @default off */
  triggers?: { intervalMs: number } | false;
  /** Where the outbox relay publishes run events, and the gateway's subscriptions read them. @default an in-process bus, closed on stop */
  bus?: EventBus;
  /** Run an outbox relay in this process. @default true when the worker runs here */
  relay?: boolean;
  /** How the gateway authenticates callers. @default HS256 JWTs with the development secret, issuer and audience */
  auth?: AuthOptions;
  /** `NODE_ENV=production` behaviour (no introspection, no field suggestions). @default false */
  production?: boolean;
  /** The gateway's operation limits. @default the gateway's defaults */
  limits?: OperationLimits;
  /** The manifest, and the roles that may run only its operations. @default the checked-in manifest, for portal users */
  trustedDocuments?: { manifest: TrustedDocuments; roles: readonly Role[] };
  /** Browser origins allowed to call the gateway cross-origin (`CORS_ORIGINS`). @default none */
  corsOrigins?: readonly string[];
  /** Who shapes the gateway's results (`GATEWAY_RESULT_SHAPING`). @default 'compiled' */
  resultShaping?: ResultShaping;
  /** `SUBGRAPH_TRUST=jwt`: the subgraphs also accept another gateway's requests (shared secret + bearer token). @default signed only */
  gatewayTrust?: GatewayTrust;
  /** The gateway's per-caller request budget. @default none (tests and benchmarks send far more than a client) */
  rateLimiter?: RateLimiter;
}

/** The gateway's development token settings: `npm run token` mints for them. */
export const DEV_AUTH: AuthOptions = {
  mode: 'jwt',
  keys: { kind: 'secret', secret: DEV_JWT_SECRET },
  issuer: DEV_ISSUER,
  audience: DEV_AUDIENCE,
};

/** The running graph: URLs, stores, servers and `stop()`. */
export interface Stack {
  /** `http://host:port/graphql` of the gateway. */
  gatewayUrl: string;
  /** Each subgraph's `/graphql` URL. */
  urls: Record<SubgraphName, string>;
  stores: EmbeddedStores;
  gateway: RunningGateway;
  subgraphs: Record<SubgraphName, RunningSubgraph>;
  /** The flow worker of this process, when started. */
  worker: Worker | null;
  /** The trigger poller, while this process leads it. */
  readonly triggers: TriggerPoller | null;
  /** The event bus the outbox relay publishes run events on (the one passed in, or the stack's own). */
  bus: EventBus;
  /** The outbox relay, while this process leads it (started with the worker). */
  readonly relay: OutboxRelay | null;
  /** The engine (worker, relay, trigger poller) of this process, when any part of it runs here. */
  engine: Engine | null;
  /** The secret each subgraph's requests are signed with (fresh random ones per stack). */
  secrets: Record<SubgraphName, string>;
  /** Every run change this process's worker commits, as `run` events. */
  runEvents: EventEmitter<{ run: [RunRecord] }>;
  /** Stops one subgraph's server (its store stays open), to see the gateway without it. */
  stopSubgraph(name: SubgraphName): Promise<void>;
  /** Stops the gateway, the subgraphs and closes every store. */
  stop(): Promise<void>;
}

/**
 * Starts the four subgraphs over the embedded reference systems (seeding empty stores), composes the
 * supergraph from the same schema files, and starts the gateway in front of them.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const logger = options.logger ?? silentLogger();
  const host = options.host ?? '127.0.0.1';
  const stores: EmbeddedStores = {
    crm: new SqliteCrmConnector(join(options.dataDir, 'crm.db'), options.faults?.crm),
    psa: new SqlitePsaConnector(join(options.dataDir, 'psa.db'), options.faults?.psa),
    erp: new SqliteErpConnector(join(options.dataDir, 'erp.db'), options.faults?.erp),
    ledger: options.databaseUrl
      ? await PgLedger.open({ url: options.databaseUrl, logger: logger.child({ service: 'ledger' }) })
      : new SqliteLedger(join(options.dataDir, 'orchestration.db')),
  };
  if (options.clock) for (const system of [stores.crm, stores.psa, stores.erp]) system.faults.setClock(options.clock);
  const seedAccounts = options.seedAccounts ?? DEFAULT_DEMO_ACCOUNTS;
  const seeded =
    seedAccounts > 0
      ? seedEmptyStores(
          [
            crmSeedTarget(stores.crm),
            psaSeedTarget(stores.psa),
            erpSeedTarget(stores.erp),
            ...(stores.ledger instanceof SqliteLedger ? [ledgerSeedTarget(stores.ledger)] : []),
          ],
          seedAccounts,
          options.onSeedProgress,
        )
      : [];
  if (seeded.length) logger.info({ seeded, accounts: seedAccounts }, 'seeded empty stores with demo data');
  const wrap = options.wrapConnector ?? (<T extends object>(_s: string, c: T) => c);
  const port = (name: SubgraphName | 'gateway') => options.ports?.[name] ?? 0;
  const child = (name: string) => logger.child({ service: name });
  // Everything runs in this process, so each subgraph gets a fresh secret nobody outside it knows.
  const secrets = randomSecrets<SubgraphName>(['crm', 'psa', 'erp', 'orchestration']);
  const production = options.production ?? false;
  const trust = (name: SubgraphName) => ({
    port: port(name),
    host,
    logger: child(name),
    signature: { secret: secrets[name] },
    gateways: options.gatewayTrust ?? null,
    production,
  });
  const endpoints = {
    crm: () => ({ url: systems.crm.url, secret: secrets.crm }),
    psa: () => ({ url: systems.psa.url, secret: secrets.psa }),
    erp: () => ({ url: systems.erp.url, secret: secrets.erp }),
  };

  const systems = {
    crm: await startSubgraph(
      createCrmSubgraph({
        crm: wrap<CrmConnector>('crm', stores.crm),
        ...(options.clock ? { now: options.clock } : {}),
      }),
      trust('crm'),
    ),
    psa: await startSubgraph(
      createPsaSubgraph({
        psa: wrap<PsaConnector>('psa', stores.psa),
        erpInvoices: erpInvoicesOverGraphQL(endpoints.erp),
      }),
      trust('psa'),
    ),
    erp: await startSubgraph(
      createErpSubgraph({
        erp: wrap<ErpConnector>('erp', stores.erp),
        ...(options.clock ? { now: options.clock } : {}),
      }),
      trust('erp'),
    ),
  };
  const ledger = wrap<Ledger>('orchestration', stores.ledger);
  const governance = options.governance ?? loadGovernance();
  const runEvents = new EventEmitter<{ run: [RunRecord] }>();
  runEvents.setMaxListeners(0);
  const bus = options.bus ?? createInProcessBus({ logger: child('bus') });
  const engine =
    options.worker === false && !options.relay && !options.triggers
      ? null
      : startEngine({
          ledger,
          bus,
          flows: FLOWS,
          systems: createGraphQLSystems({ crm: endpoints.crm(), psa: endpoints.psa(), erp: endpoints.erp() }),
          governance,
          logger: child('orchestration'),
          worker:
            options.worker === false
              ? false
              : { ...options.workerOptions, ...(options.clock ? { now: options.clock } : {}) },
          relay: options.relay ?? options.worker !== false,
          triggers: options.triggers
            ? {
                sources: createGraphQLTriggerSources({
                  crm: endpoints.crm(),
                  psa: endpoints.psa(),
                  erp: endpoints.erp(),
                }),
                intervalMs: options.triggers.intervalMs,
                ...(options.clock ? { now: options.clock } : {}),
              }
            : false,
          ...(options.leaderLeaseMs ? { leaderLeaseMs: options.leaderLeaseMs } : {}),
          onRunChanged: (run) => runEvents.emit('run', run),
        });
  await engine?.ready;
  const runQueued = () => engine?.runQueued();
  const subgraphs: Record<SubgraphName, RunningSubgraph> = {
    ...systems,
    orchestration: await startSubgraph(
      createOrchestrationSubgraph({
        ledger,
        flows: FLOWS,
        systems: createGraphQLSystems({ crm: endpoints.crm(), psa: endpoints.psa(), erp: endpoints.erp() }),
        governance,
        onRunQueued: runQueued,
        bus,
      }),
      trust('orchestration'),
    ),
  };
  const urls = Object.fromEntries(Object.entries(subgraphs).map(([name, s]) => [name, s.url])) as Record<
    SubgraphName,
    string
  >;
  let supergraphSdl = options.supergraphSdl;
  if (supergraphSdl === undefined) {
    const composed = composeSupergraph(loadSupergraphConfig(SUPERGRAPH_CONFIG), urls);
    if (composed.errors) throw new Error(`Composition failed:\n${composed.errors.join('\n')}`);
    supergraphSdl = composed.supergraphSdl;
  }
  const gateway = await startGateway({
    supergraphSdl,
    subgraphUrls: urls,
    subgraphSecrets: secrets,
    auth: options.auth ?? DEV_AUTH,
    production,
    rateLimiter: options.rateLimiter ?? createRateLimiter({ points: 0 }),
    trustedDocuments: options.trustedDocuments ?? {
      manifest: loadTrustedDocuments(),
      roles: DEFAULT_TRUSTED_DOCUMENT_ROLES,
    },
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.subscriptions ? { subscriptions: options.subscriptions } : {}),
    ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
    ...(options.resultShaping ? { resultShaping: options.resultShaping } : {}),
    logger: child('gateway'),
    port: port('gateway'),
    host,
    bus,
  });

  const stopped = new Set<SubgraphName>();
  const stopSubgraph = async (name: SubgraphName) => {
    if (stopped.has(name)) return;
    stopped.add(name);
    await subgraphs[name].close();
  };
  return {
    gatewayUrl: gateway.url,
    urls,
    stores,
    gateway,
    subgraphs,
    worker: engine?.worker ?? null,
    get triggers() {
      return engine?.triggers() ?? null;
    },
    bus,
    get relay() {
      return engine?.relay() ?? null;
    },
    engine,
    secrets,
    runEvents,
    stopSubgraph,
    stop: async () => {
      await engine?.stop();
      await gateway.close();
      await Promise.all((Object.keys(subgraphs) as SubgraphName[]).map(stopSubgraph));
      if (!options.bus) await bus.close();
      stores.crm.close();
      stores.psa.close();
      stores.erp.close();
      await stores.ledger.close();
    },
  };
}
