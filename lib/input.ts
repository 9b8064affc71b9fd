import { MeridianError } from './errors';

/**
 * A record ID as the systems write them (`OPP-0000011`, a vendor's `0065g00000AbCdE`, `RUN-<uuid>`): 1 to 128 of
 * letters, digits and `_.:-`, starting with a letter or digit. Loose enough for any vendor's IDs, strict enough that
 * blanks, spaces, control characters and 10 KB strings never reach a store, a run or a business message.
 */
const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** C0 and C1 control characters (NUL, tab, newline, escape, DEL…): never in a name. */
const CONTROL = /\p{Cc}/u;

/** Longest name a system accepts (Salesforce's Account.Name is 255). */
export const MAX_NAME_LENGTH = 255;

/** `value` cut to 40 characters for a message: an error never echoes a huge input back. */
export function preview(value: string): string {
  return value.length <= 40 ? value : `${value.slice(0, 40)}… (${value.length} characters)`;
}

/**
 * Checks that `value` is a record ID, returning it.
 * @throws MeridianError BAD_USER_INPUT naming `field`, with a preview of the value.
 */
export function recordId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw new MeridianError('BAD_USER_INPUT', `${field} is required`, { field });
  if (!RECORD_ID.test(value)) {
    const shown = preview(value);
    throw new MeridianError(
      'BAD_USER_INPUT',
      `${field} must be a record ID (1 to 128 letters, digits or _.:- ); got '${shown}'`,
      { field, value: shown },
    );
  }
  return value;
}

/** Like {@link recordId}, passing `null` and `undefined` through as `null`. */
export function optionalRecordId(value: unknown, field: string): string | null {
  return value === null || value === undefined ? null : recordId(value, field);
}

/**
 * Checks that `value` is a name a person can read: not blank, no control characters, at most
 * {@link MAX_NAME_LENGTH} characters. Returns it unchanged (surrounding spaces are the caller's business).
 * @throws MeridianError BAD_USER_INPUT naming `field`.
 */
export function displayName(value: string, field: string): string {
  if (value.trim() === '') throw new MeridianError('BAD_USER_INPUT', `${field} must not be blank`, { field });
  if (CONTROL.test(value))
    throw new MeridianError('BAD_USER_INPUT', `${field} must not contain control characters`, { field });
  if (value.length > MAX_NAME_LENGTH) {
    throw new MeridianError(
      'BAD_USER_INPUT',
      `${field} must be at most ${MAX_NAME_LENGTH} characters; got ${value.length}`,
      { field, value: preview(value) },
    );
  }
  return value;
}

/** Like {@link displayName}, passing `null` and `undefined` through as `null`. */
export function optionalDisplayName(value: string | null | undefined, field: string): string | null {
  return value === null || value === undefined ? null : displayName(value, field);
}
