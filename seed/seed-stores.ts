import { generateAccounts, type DatasetChunk } from './generate';

/** A store that takes its part of each generated chunk (a reference system, or the cross-reference registry). */
export interface SeedTarget {
  name: string;
  seedChunk(chunk: DatasetChunk): void;
}

/** Accounts generated and inserted per transaction: bounds memory at any size. */
export const SEED_CHUNK_ACCOUNTS = 250;

/**
 * Seeds `accounts` demo accounts into every target, chunk by chunk, reporting progress after each chunk.
 * Each target gets the same chunks, so the systems stay consistent with each other.
 */
export function seedStores(targets: readonly SeedTarget[], accounts: number, onProgress?: (done: number, total: number) => void): void {
  for (let from = 1; from <= accounts; from += SEED_CHUNK_ACCOUNTS) {
    const to = Math.min(accounts + 1, from + SEED_CHUNK_ACCOUNTS);
    const chunk = generateAccounts(from, to);
    for (const target of targets) target.seedChunk(chunk);
    onProgress?.(to - 1, accounts);
  }
}
