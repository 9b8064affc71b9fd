import { createHmac, timingSafeEqual } from 'node:crypto';
import { MeridianError } from '../errors';
import { decodeIdentity, encodeIdentity, IDENTITY_HEADER, type Identity } from './identity';

/** Header with the signing time, in milliseconds since the epoch. */
export const TIMESTAMP_HEADER = 'x-meridian-timestamp';
/** Header with `v1=<hex HMAC-SHA256>` over timestamp, identity header and body. */
export const SIGNATURE_HEADER = 'x-meridian-signature';
/** How far a signature's timestamp may be from the receiver's clock, either way. @default 60000 */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 60_000;

function mac(secret: string, timestamp: string, identity: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${identity}.${body}`).digest('hex');
}

/** The headers that make a subgraph accept `body` as sent by a trusted caller on behalf of `identity`. */
export function signRequest(
  secret: string,
  body: string,
  identity: Identity | null,
  now = Date.now(),
): Record<string, string> {
  return signEncoded(secret, body, encodeIdentity(identity), now);
}

/** {@link signRequest} for an identity already encoded as its header value. */
export function signEncoded(
  secret: string,
  body: string,
  encodedIdentity: string,
  now = Date.now(),
): Record<string, string> {
  const timestamp = String(now);
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [IDENTITY_HEADER]: encodedIdentity,
    [SIGNATURE_HEADER]: `v1=${mac(secret, timestamp, encodedIdentity, body)}`,
  };
}

/** What a subgraph needs to check signatures. */
export interface SignatureCheck {
  /** The subgraph's shared secret with the gateway and the orchestration. */
  secret: string;
  /** @default {@link DEFAULT_SIGNATURE_TOLERANCE_MS} */
  toleranceMs?: number;
}

/**
 * Verifies a request's signature over its raw body and returns the identity it carries (null: anonymous).
 * @throws MeridianError UNAUTHENTICATED for a missing, wrong or stale signature.
 */
export function verifySignedRequest(
  check: SignatureCheck,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now = Date.now(),
): Identity | null {
  const one = (name: string) => {
    const v = headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const timestamp = one(TIMESTAMP_HEADER);
  const signature = one(SIGNATURE_HEADER);
  const identity = one(IDENTITY_HEADER) ?? '';
  if (!timestamp || !signature)
    throw new MeridianError('UNAUTHENTICATED', 'Subgraphs accept only requests signed by the gateway');
  const at = Number(timestamp);
  if (!/^\d{1,15}$/.test(timestamp) || Math.abs(now - at) > (check.toleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS)) {
    throw new MeridianError('UNAUTHENTICATED', 'The request signature is stale');
  }
  const expected = Buffer.from(`v1=${mac(check.secret, timestamp, identity, body)}`);
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new MeridianError('UNAUTHENTICATED', 'The request signature does not match');
  return decodeIdentity(identity);
}
