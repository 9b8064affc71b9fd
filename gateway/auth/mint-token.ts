import { SignJWT } from 'jose';
import type { Role } from '../../lib/auth/identity';

/** What a development token says about its holder. */
export interface TokenRequest {
  secret: string;
  issuer: string;
  audience: string;
  subject: string;
  role: Role;
  /** Extra scopes (space-joined into `scope`); the gateway keeps only those the role may be granted. */
  scopes?: readonly string[];
  /** CRM account IDs of a portal user. */
  accounts?: readonly string[];
  /** jose duration (`'1h'`, `'30d'`) or seconds since the epoch. @default '12h' */
  expiresIn?: string | number;
}

/** Signs an HS256 token for the gateway's development secret (`npm run token`, tests). */
export async function mintToken(request: TokenRequest): Promise<string> {
  const claims: Record<string, unknown> = { role: request.role };
  if (request.scopes?.length) claims.scope = request.scopes.join(' ');
  if (request.accounts?.length) claims.accounts = [...request.accounts];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.subject)
    .setIssuer(request.issuer)
    .setAudience(request.audience)
    .setIssuedAt()
    .setExpirationTime(request.expiresIn ?? '12h')
    .sign(new TextEncoder().encode(request.secret));
}
