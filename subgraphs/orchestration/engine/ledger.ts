/** Kinds of business entity the cross-reference registry links. */
export type CrossReferenceEntity = 'ACCOUNT' | 'OPPORTUNITY' | 'PROJECT';
/** Systems of record behind the graph. */
export type SystemName = 'CRM' | 'PSA' | 'ERP';

/** One link: the ID an entity owned by one system has in another. */
export interface CrossReferenceRecord {
  id: string;
  entityType: CrossReferenceEntity;
  canonicalId: string;
  system: SystemName;
  externalId: string;
  createdAt: string;
}

/** A link to record; recording the same (entity, canonical ID, system) again keeps the first link. */
export type NewCrossReference = Omit<CrossReferenceRecord, 'id' | 'createdAt'>;

/**
 * The orchestration's durable store. This issue's slice holds the cross-reference registry; runs, steps,
 * outbox and audit log join it with the flows. Batch reads return one entry per key, in the keys' order.
 */
export interface Ledger {
  /** Which adapter this is (`sqlite`, `postgres`). */
  readonly kind: string;
  /** Resolves when the store answers; throws when it does not. */
  ping(): Promise<void>;
  getCrossReferences(ids: readonly string[]): Promise<(CrossReferenceRecord | null)[]>;
  /** Links per entity, oldest first; keys are `{ entityType, canonicalId }`. */
  getCrossReferencesByEntity(keys: readonly { entityType: CrossReferenceEntity; canonicalId: string }[]): Promise<CrossReferenceRecord[][]>;
  /** Records links idempotently; returns them as stored (the first one recorded, for a repeat). */
  recordCrossReferences(links: readonly NewCrossReference[]): Promise<CrossReferenceRecord[]>;
}
