import DataLoader from 'dataloader';
import type {
  AuditRecord,
  CrossReferenceEntity,
  CrossReferenceRecord,
  ExceptionRecord,
  Ledger,
  RunRecord,
} from './engine/ledger';

/** The orchestration's per-request loaders. */
export interface OrchestrationLoaders {
  crossReference: DataLoader<string, CrossReferenceRecord | null>;
  crossReferencesByEntity: DataLoader<
    { entityType: CrossReferenceEntity; canonicalId: string },
    CrossReferenceRecord[],
    string
  >;
  run: DataLoader<string, RunRecord | null>;
  runsByAccount: DataLoader<string, RunRecord[]>;
  runsByOpportunity: DataLoader<string, RunRecord[]>;
  runsByProject: DataLoader<string, RunRecord[]>;
  exception: DataLoader<string, ExceptionRecord | null>;
  openExceptionByRun: DataLoader<string, ExceptionRecord | null>;
  auditByRun: DataLoader<string, AuditRecord[]>;
}

/** Builds a fresh loader set; call once per request. */
export function createLoaders(ledger: Ledger): OrchestrationLoaders {
  return {
    crossReference: new DataLoader((ids) => ledger.getCrossReferences(ids)),
    crossReferencesByEntity: new DataLoader((keys) => ledger.getCrossReferencesByEntity(keys), {
      cacheKeyFn: (k) => `${k.entityType}:${k.canonicalId}`,
    }),
    run: new DataLoader((ids) => ledger.getRuns(ids)),
    runsByAccount: new DataLoader((ids) => ledger.getRunsBy('accountId', ids)),
    runsByOpportunity: new DataLoader((ids) => ledger.getRunsBy('opportunityId', ids)),
    runsByProject: new DataLoader((ids) => ledger.getRunsBy('projectId', ids)),
    exception: new DataLoader((ids) => ledger.getExceptions(ids)),
    openExceptionByRun: new DataLoader((ids) => ledger.getOpenExceptionsByRun(ids)),
    auditByRun: new DataLoader((ids) => ledger.getAuditByRun(ids)),
  };
}
