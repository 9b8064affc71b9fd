import { isoTimestamp } from './dates';
import { MeridianError } from './errors';
import { decodeCursor, pageRequest, toConnection, type Connection, type Page } from './pagination';

/** A record's place in a change feed: when it last changed, then its ID (which breaks ties). */
export interface ChangePosition {
  updatedAt: string;
  id: string;
}

/**
 * One page of a change feed, as a connector takes it: records changed at or after `since`, in (updatedAt, id) order,
 * strictly after the position `after`, `first` of them.
 */
export interface ChangeFeedRequest {
  /** Only records changed at or after this ISO 8601 UTC timestamp (`toISOString()` form); all when null. */
  since: string | null;
  /** The position of the last record already read; null to start at `since`. */
  after: ChangePosition | null;
  first: number;
}

// Neither a timestamp nor an ID holds a space, so the pair reads back unambiguously.
const SEPARATOR = ' ';

/**
 * Validates a change feed's GraphQL arguments (`since`, `first`, `after`) into a {@link ChangeFeedRequest}.
 * @throws MeridianError BAD_USER_INPUT for a malformed `since` or `first`; INVALID_CURSOR for a foreign cursor.
 */
export function changeFeedRequest(
  args: { since?: string | null; first?: number | null; after?: string | null },
  list: string,
): ChangeFeedRequest {
  const since = args.since === null || args.since === undefined ? null : isoTimestamp(args.since, 'since');
  const { first } = pageRequest({ first: args.first ?? null }, list);
  if (!args.after) return { since, after: null, first };
  const key = decodeCursor(args.after, list);
  const at = key.indexOf(SEPARATOR);
  if (at < 1 || at === key.length - 1) {
    throw new MeridianError(
      'INVALID_CURSOR',
      `The cursor '${args.after}' does not belong to ${list}; start again without 'after'.`,
      { field: 'after', value: args.after },
    );
  }
  return { since, after: { updatedAt: key.slice(0, at), id: key.slice(at + 1) }, first };
}

/** A page of a change feed as a GraphQL connection; each cursor holds its record's (updatedAt, id). */
export function toChangeConnection<T extends ChangePosition>(page: Page<T>, list: string): Connection<T> {
  return toConnection(page, list, (r) => `${r.updatedAt}${SEPARATOR}${r.id}`);
}
