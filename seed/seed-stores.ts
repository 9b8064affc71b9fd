import { generateAccounts, type DatasetChunk } from './generate';

/** A store that takes its part of the demo data: a reference system, or the orchestration ledger. */
export interface SeedTarget {
  name: string;
  /** True when the store holds no data yet. */
  isEmpty(): boolean;
  /** Inserts the store's fixed reference data (templates, rate cards, legal entities…), if it has any. */
  seedReferenceData?(): void;
  /** Inserts the store's part of one chunk of generated accounts. */
  seedChunk(chunk: DatasetChunk): void;
}

/** Accounts generated and inserted per transaction: bounds memory at any size. */
export const SEED_CHUNK_ACCOUNTS = 250;

/**
 * Seeds `accounts` demo accounts into every target that is empty, chunk by chunk, reporting progress after
 * each chunk. Every target gets the same chunks, so the systems agree with each other. Returns the names seeded.
 */
export function seedEmptyStores(
  targets: readonly SeedTarget[],
  accounts: number,
  onProgress?: (done: number, total: number) => void,
): string[] {
  const empty = targets.filter((t) => t.isEmpty());
  if (empty.length === 0) return [];
  for (const target of empty) target.seedReferenceData?.();
  for (let from = 1; from <= accounts; from += SEED_CHUNK_ACCOUNTS) {
    const to = Math.min(accounts + 1, from + SEED_CHUNK_ACCOUNTS);
    const chunk = generateAccounts(from, to);
    for (const target of empty) target.seedChunk(chunk);
    onProgress?.(to - 1, accounts);
  }
  return empty.map((t) => t.name);
}
