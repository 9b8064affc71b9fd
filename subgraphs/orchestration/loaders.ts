import DataLoader from 'dataloader';
import type { CrossReferenceEntity, CrossReferenceRecord, Ledger } from './engine/ledger';

/** The orchestration's per-request loaders. */
export interface OrchestrationLoaders {
  crossReference: DataLoader<string, CrossReferenceRecord | null>;
  crossReferencesByEntity: DataLoader<{ entityType: CrossReferenceEntity; canonicalId: string }, CrossReferenceRecord[], string>;
}

/** Builds a fresh loader set; call once per request. */
export function createLoaders(ledger: Ledger): OrchestrationLoaders {
  return {
    crossReference: new DataLoader((ids) => ledger.getCrossReferences(ids)),
    crossReferencesByEntity: new DataLoader((keys) => ledger.getCrossReferencesByEntity(keys), { cacheKeyFn: (k) => `${k.entityType}:${k.canonicalId}` }),
  };
}
