import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthenticator, type TokenKeys } from '../../gateway/auth/authenticator';

/** Tokens from an identity provider that publishes its public keys as a JWKS, read from a file or over HTTP. */
const ISSUER = 'https://idp.example';
const AUDIENCE = 'meridian';

describe('bearer tokens verified against a JWKS', () => {
  let dir: string;
  let server: Server;
  let jwksUrl: string;
  let privateKey: KeyLike;
  let otherKey: KeyLike;
  let publicJwk: JWK;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey as KeyLike;
    otherKey = (await generateKeyPair('RS256')).privateKey as KeyLike;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
    dir = mkdtempSync(join(tmpdir(), 'meridian-jwks-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [publicJwk] }));
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const sign = (key: KeyLike | Uint8Array, alg: string, claims: Record<string, unknown> = { role: 'bi' }) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg, kid: 'key-1' })
      .setSubject('bi-1')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(key);
  // Built when a test runs: the file and the URL exist only after beforeAll.
  const keys = (source: 'file' | 'URL'): TokenKeys =>
    source === 'file' ? { kind: 'jwks-file', path: join(dir, 'jwks.json') } : { kind: 'jwks-url', url: jwksUrl };

  it.each(['file', 'URL'] as const)('accepts a token signed with the published key (JWKS %s)', async (source) => {
    const authenticate = createAuthenticator({ mode: 'jwt', keys: keys(source), issuer: ISSUER, audience: AUDIENCE });
    await expect(authenticate(`Bearer ${await sign(privateKey, 'RS256')}`)).resolves.toEqual({
      subject: 'bi-1',
      role: 'bi',
      scopes: ['read:business', 'read:sync'],
      accounts: null,
      expiresAt: expect.any(Number),
    });
  });

  it.each(['file', 'URL'] as const)(
    'refuses a token signed with another key, and an HS256 token keyed with the public key (JWKS %s)',
    async (source) => {
      const authenticate = createAuthenticator({ mode: 'jwt', keys: keys(source), issuer: ISSUER, audience: AUDIENCE });
      await expect(authenticate(`Bearer ${await sign(otherKey, 'RS256')}`)).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        message: 'The token signature does not verify',
      });
      // The classic key-confusion attack: an HS256 token whose "secret" is the public key.
      const confused = await sign(new TextEncoder().encode(JSON.stringify(publicJwk)), 'HS256');
      await expect(authenticate(`Bearer ${confused}`)).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        message: 'The token is signed with an algorithm this gateway does not accept',
      });
    },
  );
});
