import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withConsole } from '../gateway/console';
import { listen, sendJson, type Listening } from '../lib/graphql-http';

/** A raw GET that sends the path exactly as given (fetch would normalise `..` away). */
function raw(
  url: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the console served by the gateway (gateway/console.ts)', () => {
  let root: string;
  let dist: string;
  let server: Listening;
  let unbuilt: Listening;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'meridian-console-static-'));
    dist = join(root, 'dist');
    mkdirSync(join(dist, 'assets'), { recursive: true });
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dist, 'assets', 'main-ABC123.js'), 'console.log(1)');
    writeFileSync(join(dist, 'assets', 'main-ABC123.css'), 'body{}');
    writeFileSync(join(dist, '.env'), 'SECRET=1');
    writeFileSync(join(root, 'secret.txt'), 'outside the console folder');
    const graphql = (_req: unknown, res: Parameters<typeof sendJson>[0]) => sendJson(res, 200, { served: 'graphql' });
    server = await listen(withConsole(graphql, dist), 0);
    unbuilt = await listen(withConsole(graphql, join(root, 'missing')), 0);
  });
  afterAll(async () => {
    await server.close();
    await unbuilt.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const js = await raw(server.url, '/console/assets/main-ABC123.js');
    expect(js).toMatchObject({
      status: 200,
      body: 'console.log(1)',
      headers: {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      },
    });
    expect(js.headers['content-security-policy']).toContain("default-src 'self'");
    const css = await raw(server.url, '/console/assets/main-ABC123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it("answers every page path with index.html, never cached, so the console's own routes load", async () => {
    for (const path of ['/console/', '/console/exceptions', '/console/runs/RUN-1?x=1', '/console/journey']) {
      const page = await raw(server.url, path);
      expect(page).toMatchObject({
        status: 200,
        body: '<!doctype html><title>console</title>',
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' },
      });
    }
    expect(await raw(server.url, '/console')).toMatchObject({ status: 308, headers: { location: '/console/' } });
    const head = await raw(server.url, '/console/', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '', headers: { 'content-length': '37' } });
  });

  it('refuses paths that leave the folder, dotfiles, missing assets and other methods', async () => {
    for (const path of [
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/..%2fsecret.txt',
      '/console/..%5csecret.txt',
      '/console/assets/%2e%2e/%2e%2e/secret.txt',
      '/console/.env',
      '/console/assets/missing.js',
      '/console/favicon.ico',
      '/console/%00index.html',
      '/console/%E0%A4%A',
    ]) {
      const response = await raw(server.url, path);
      expect({ path, status: response.status, body: response.body }).toEqual({
        path,
        status: 404,
        body: 'Not found\n',
      });
    }
    expect(await raw(server.url, '/console/', 'POST')).toMatchObject({ status: 405, headers: { allow: 'GET, HEAD' } });
  });

  it('leaves every other path to the gateway, and says how to build the console when it is missing', async () => {
    expect(await raw(server.url, '/graphql')).toMatchObject({ status: 200, body: '{"served":"graphql"}' });
    expect(await raw(server.url, '/consoles')).toMatchObject({ status: 200, body: '{"served":"graphql"}' });
    expect(await raw(unbuilt.url, '/console/')).toMatchObject({
      status: 503,
      body: 'The console is not built: run `npm run build:console` (npm ci and npm test build it)\n',
    });
  });
});
