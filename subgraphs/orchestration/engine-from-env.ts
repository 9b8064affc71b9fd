import { join } from 'node:path';
import type { Logger } from 'pino';
import { subgraphSecret } from '../../lib/auth/secrets';
import type { UsageEntry } from '../../lib/cli';
import { intFromEnv } from '../../lib/env';
import type { Ledger } from './engine/ledger';
import { PgLedger } from './engine/pg-ledger';
import { SqliteLedger } from './engine/sqlite-ledger';
import { DEFAULT_OUTBOX_RETENTION_MS, type EngineOptions } from './engine/start-engine';
import type { SystemTargets } from './systems/graphql-client';

/**
 * Opens the ledger the environment names: PostgreSQL at `DATABASE_URL` (a pool of `LEDGER_POOL_SIZE` connections,
 * 10) when set, else the SQLite file `orchestration.db` in `DATA_DIR` (`data`).
 * @throws LedgerStartError in one line (host, database, cause) when PostgreSQL cannot be opened.
 */
export async function openLedgerFromEnv(env: NodeJS.ProcessEnv, logger: Logger): Promise<Ledger> {
  if (env.DATABASE_URL)
    return PgLedger.open({
      url: env.DATABASE_URL,
      poolSize: intFromEnv(env, 'LEDGER_POOL_SIZE', 10, 1, 1000),
      logger: logger.child({ component: 'ledger' }),
    });
  return new SqliteLedger(join(env.DATA_DIR ?? 'data', 'orchestration.db'));
}

/** The system subgraphs the engine calls: `CRM_URL`, `PSA_URL`, `ERP_URL` (their default ports here), signed with `SUBGRAPH_SECRET_<NAME>`. */
export function systemTargetsFromEnv(env: NodeJS.ProcessEnv): SystemTargets {
  return {
    crm: { url: env.CRM_URL ?? 'http://127.0.0.1:4001/graphql', secret: subgraphSecret(env, 'crm') },
    psa: { url: env.PSA_URL ?? 'http://127.0.0.1:4002/graphql', secret: subgraphSecret(env, 'psa') },
    erp: { url: env.ERP_URL ?? 'http://127.0.0.1:4003/graphql', secret: subgraphSecret(env, 'erp') },
  };
}

/**
 * The engine's tuning from the environment (each documented in docs/scale-out.md):
 * `WORKER_CONCURRENCY` (runs one worker advances at once, 4), `LEASE_MS` (30000), `WORKER_POLL_MS` (longest wait
 * between looks for due runs, 250), `LEADER_LEASE_MS` (relay and trigger-poller leadership, 10000),
 * `OUTBOX_RETENTION_DAYS` (30), `TRIGGERS=0` (no trigger poller here) and `TRIGGER_POLL_MS` (5000).
 */
export function engineTuningFromEnv(
  env: NodeJS.ProcessEnv,
): Pick<EngineOptions, 'worker' | 'leaderLeaseMs' | 'outboxRetentionMs'> & { triggerIntervalMs: number | null } {
  const days = intFromEnv(env, 'OUTBOX_RETENTION_DAYS', DEFAULT_OUTBOX_RETENTION_MS / 86_400_000, 1);
  return {
    worker: {
      concurrency: intFromEnv(env, 'WORKER_CONCURRENCY', 4, 1, 1000),
      leaseMs: intFromEnv(env, 'LEASE_MS', 30_000, 100),
      idlePollMs: intFromEnv(env, 'WORKER_POLL_MS', 250, 10),
    },
    leaderLeaseMs: intFromEnv(env, 'LEADER_LEASE_MS', 10_000, 100),
    outboxRetentionMs: days * 86_400_000,
    triggerIntervalMs: env.TRIGGERS === '0' ? null : intFromEnv(env, 'TRIGGER_POLL_MS', 5000, 100),
  };
}

/** The variables the engine reads, as `--help` lists them. */
export const ENGINE_ENV: readonly UsageEntry[] = [
  ['DATABASE_URL', 'the ledger on PostgreSQL (postgres://user@host:port/database); unset: SQLite in DATA_DIR'],
  ['LEDGER_POOL_SIZE', 'PostgreSQL connections per process (default 10)'],
  ['DATA_DIR', 'folder of the SQLite ledger when DATABASE_URL is unset (default data)'],
  ['REDIS_URL', 'publish run events on Redis (default: in-process, seen by no other process)'],
  ['CRM_URL, PSA_URL, ERP_URL', 'the system subgraphs (default their ports on 127.0.0.1)'],
  ['SUBGRAPH_SECRET_<NAME>', "secret each system subgraph's requests are signed with"],
  ['WORKER_CONCURRENCY', 'runs one worker advances at once (default 4)'],
  ['LEASE_MS', 'how long a claimed run stays a worker’s without renewal (default 30000)'],
  ['WORKER_POLL_MS', 'longest wait between looks for due runs, the safety net under NOTIFY (default 250)'],
  ['LEADER_LEASE_MS', 'relay and trigger-poller leadership lease; a dead leader is replaced after it (default 10000)'],
  ['OUTBOX_RETENTION_DAYS', 'delivered outbox events kept this long (default 30)'],
  ['TRIGGERS', '`0`: no trigger poller in this process'],
  ['TRIGGER_POLL_MS', 'time between trigger looks (default 5000)'],
  ['GOVERNANCE_PATH', 'another governance file (default the checked-in one)'],
];
