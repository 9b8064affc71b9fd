import { MeridianError } from './errors';

/** Page size when `first` is omitted. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest `first` a list accepts; BI exports page through bigger sets. */
export const MAX_PAGE_SIZE = 1000;

/** A page from a connector: rows in key order, plus whether more follow and the total across pages. */
export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  totalCount: number;
  /** The key to continue after the last node, when the rows are in another order than their IDs'. */
  endKey?: string | null;
}

/** The GraphQL shape of a cursor-paginated list. */
export interface Connection<T> {
  nodes: T[];
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
  totalCount: number;
}

/** Arguments a connector's list command takes: page size and the key to start after. */
export interface PageRequest {
  first: number;
  afterKey: string | null;
}

/**
 * Validates `first`/`after` from GraphQL arguments into a {@link PageRequest}.
 * @throws MeridianError BAD_USER_INPUT for a negative or over-limit `first`; INVALID_CURSOR for a foreign cursor.
 */
export function pageRequest(args: { first?: number | null; after?: string | null }, list: string): PageRequest {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new MeridianError('BAD_USER_INPUT', `first must be between 0 and ${MAX_PAGE_SIZE}; got ${first}`, {
      field: 'first',
      value: String(first),
    });
  }
  return { first, afterKey: args.after ? decodeCursor(args.after, list) : null };
}

/** Encodes the key of a list's last row as an opaque cursor bound to that list. */
export function encodeCursor(key: string, list: string): string {
  return Buffer.from(`${list}:${key}`, 'utf8').toString('base64url');
}

/** @throws MeridianError INVALID_CURSOR when the cursor was not made by {@link encodeCursor} for `list`. */
export function decodeCursor(cursor: string, list: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!raw.startsWith(`${list}:`) || raw.length === list.length + 1) {
    throw new MeridianError(
      'INVALID_CURSOR',
      `The cursor '${cursor}' does not belong to ${list}; start again without 'after'.`,
      { field: 'after', value: cursor },
    );
  }
  return raw.slice(list.length + 1);
}

/** Turns a connector {@link Page} into a GraphQL {@link Connection}, with `key` giving each row's cursor key. */
export function toConnection<T>(page: Page<T>, list: string, key: (row: T) => string): Connection<T> {
  const last = page.nodes[page.nodes.length - 1];
  return {
    nodes: page.nodes,
    pageInfo: {
      endCursor: last === undefined ? null : encodeCursor(page.endKey ?? key(last), list),
      hasNextPage: page.hasNextPage,
    },
    totalCount: page.totalCount,
  };
}
