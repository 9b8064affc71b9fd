/*
 * A worker process for crash tests: the real ledger, flows and GraphQL systems, wrapped so that it kills itself
 * with SIGKILL at a chosen point — right after a system call returned (the effect is in the system, the ledger
 * does not know yet) or right after a step committed. Env: DATA_DIR, CRM_URL, PSA_URL, ERP_URL, SUBGRAPH_SECRET_<NAME>, LEASE_MS,
 * CRASH_AT (`<system>.<method>`, `<system>.<method>#<nth call>` or `commit:<step index>`; unset: no crash),
 * CLOCK_OFFSET_MS (the worker's clock runs this far ahead of the system's: a worker that resumes "the next day").
 * It prints `RUN <id> <status>` on every run change, so the test waits on output, not on time.
 */
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../lib/logger';
import type { Ledger } from '../../subgraphs/orchestration/engine/ledger';
import { SqliteLedger } from '../../subgraphs/orchestration/engine/sqlite-ledger';
import { startWorker } from '../../subgraphs/orchestration/engine/worker';
import { FLOWS } from '../../subgraphs/orchestration/flows/index';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { createGraphQLSystems } from '../../subgraphs/orchestration/systems/graphql-systems';
import type { Systems } from '../../subgraphs/orchestration/systems/systems';

const env = process.env;
const crashAt = env.CRASH_AT ?? '';

function crash(point: string): never {
  // A synchronous write, so the line is out before the process dies.
  writeSync(1, `CRASH ${point}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

const calls = new Map<string, number>();

function crashingSystems(systems: Systems): Systems {
  const wrap = <T extends object>(name: string, api: T): T =>
    new Proxy(api, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          const method = `${name}.${String(prop)}`;
          const n = (calls.get(method) ?? 0) + 1;
          calls.set(method, n);
          if (crashAt === method || crashAt === `${method}#${n}`) crash(crashAt);
          return result;
        };
      },
    });
  return { crm: wrap('crm', systems.crm), psa: wrap('psa', systems.psa), erp: wrap('erp', systems.erp) };
}

function crashingLedger(ledger: SqliteLedger): Ledger {
  return new Proxy(ledger, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'completeStep') return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (crashAt === `commit:${String(args[2])}`) crash(crashAt);
        return result;
      };
    },
  }) as unknown as Ledger;
}

const ledger = new SqliteLedger(join(env.DATA_DIR!, 'orchestration.db'));
const target = (name: 'crm' | 'psa' | 'erp') => ({
  url: env[`${name.toUpperCase()}_URL`]!,
  secret: env[`SUBGRAPH_SECRET_${name.toUpperCase()}`]!,
});
const systems = createGraphQLSystems({ crm: target('crm'), psa: target('psa'), erp: target('erp') });
startWorker({
  ledger: crashingLedger(ledger),
  flows: FLOWS,
  systems: crashingSystems(systems),
  governance: loadGovernance(),
  logger: silentLogger(),
  leaseMs: Number(env.LEASE_MS ?? 30_000),
  idlePollMs: 50,
  now: () => Date.now() + Number(env.CLOCK_OFFSET_MS ?? 0),
  onRunChanged: (run) => process.stdout.write(`RUN ${run.id} ${run.status}\n`),
});
process.stdout.write('WORKER READY\n');
