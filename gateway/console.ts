import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

/** Where the console is served. */
export const CONSOLE_PATH = '/console';

/** Where `npm run build:console` writes the built console (git-ignored). */
export const CONSOLE_DIST_DIR = join(__dirname, '..', 'console', 'dist');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

// The console talks only to this origin (HTTP and graphql-ws on /graphql): nothing else may load or connect.
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Wraps the gateway's request listener so that `/console` and everything under it serves the built console from
 * `dir`: files under `assets/` (content-hashed names) are cached for a year, anything else that is not a file gets
 * `index.html` uncached (the console routes in the browser). GET and HEAD only; paths that leave `dir` (`..`,
 * encoded or not), NUL bytes and dotfiles get 404. Without a build, `/console` says how to make one (503).
 */
export function withConsole(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  dir: string = CONSOLE_DIST_DIR,
): (req: IncomingMessage, res: ServerResponse) => void {
  const root = resolve(dir);
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return listener(req, res);
    serveConsole(root, path.slice(CONSOLE_PATH.length), req, res).catch(() => {
      if (!res.headersSent) sendText(res, 500, 'The console could not be served');
      else res.destroy();
    });
  };
}

/**
 * Serves the console on a listening server: its request listener is wrapped by {@link withConsole}, so the gateway
 * hooks the console in with one line whatever its own routes are.
 */
export function serveConsoleOn(server: Server, dir: string = CONSOLE_DIST_DIR): void {
  const listeners = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (listeners.length !== 1) throw new Error(`serveConsoleOn expects one request listener, found ${listeners.length}`);
  server.removeAllListeners('request');
  server.on('request', withConsole(listeners[0]!, dir));
}

async function serveConsole(root: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendText(res, 405, 'The console is read with GET');
  }
  if (path === '') {
    res.statusCode = 308;
    res.setHeader('location', `${CONSOLE_PATH}/`);
    return void res.end();
  }
  let relative: string;
  try {
    relative = decodeURIComponent(path);
  } catch {
    return sendText(res, 404, 'Not found');
  }
  const segments = relative.split(/[\\/]/).filter((s) => s !== '');
  if (relative.includes('\0') || segments.some((s) => s.startsWith('.'))) return sendText(res, 404, 'Not found');
  const file = resolve(root, ...segments);
  if (file !== root && !file.startsWith(root + sep)) return sendText(res, 404, 'Not found');

  const isAsset = segments[0] === 'assets';
  const found = await fileAt(file);
  if (found) return sendFile(res, req, file, found.size, isAsset ? 'public, max-age=31536000, immutable' : 'no-cache');
  // A missing asset is a 404; any other path is one of the console's own pages.
  if (isAsset || extname(relative) !== '') return sendText(res, 404, 'Not found');
  const index = join(root, 'index.html');
  const indexFound = await fileAt(index);
  if (!indexFound)
    return sendText(res, 503, 'The console is not built: run `npm run build:console` (npm ci and npm test build it)');
  return sendFile(res, req, index, indexFound.size, 'no-cache');
}

async function fileAt(file: string): Promise<{ size: number } | null> {
  try {
    const info = await stat(file);
    return info.isFile() ? { size: info.size } : null;
  } catch {
    return null;
  }
}

function sendFile(res: ServerResponse, req: IncomingMessage, file: string, size: number, cacheControl: string): void {
  res.statusCode = 200;
  for (const [key, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(key, value);
  res.setHeader('content-type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream');
  res.setHeader('content-length', size);
  res.setHeader('cache-control', cacheControl);
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('cache-control', 'no-store');
  res.end(`${text}\n`);
}
