/**
 * Serves the web console's built assets (`console/dist`, see docs/console.md) at `/`: the
 * page routes all answer `index.html` (the console routes in the browser), `/assets/<file>`
 * the hashed bundles (cached for a year; gzipped when the browser accepts it). Every answer
 * carries a strict Content-Security-Policy: scripts, styles and connections from this origin
 * only, no inline script, no framing.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Router } from './router.ts';

/** The console's assets in this checkout (`console/dist`). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The console's page paths (each answers index.html). */
const PAGES = ['/', '/sign-in', '/agents', '/agents/:id', '/catalog', '/catalog/:id', '/events'];
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.map': 'application/json',
};
const ASSET_NAME = /^[A-Za-z0-9_.-]+$/;

function securityHeaders(res: ServerResponse): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
}

const acceptsGzip = (req: IncomingMessage): boolean => /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));

const NOT_BUILT = `<!doctype html><html lang="en"><title>toolbelt console not built</title>
<h1>The console is not built</h1><p>Run <code>npm run build:console</code> (or <code>npm start</code>, which builds it) and reload.</p></html>`;

/** Serves the console from `dir`; files are read per request (small) and gzipped once per version. */
export function addConsoleRoutes(router: Router, options: { dir?: string } = {}): void {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR;
  const gzipped = new Map<string, { mtimeMs: number; body: Buffer }>();

  const sendFile = async (req: IncomingMessage, res: ServerResponse, name: string, immutable: boolean): Promise<void> => {
    securityHeaders(res);
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) {
      const missingIndex = name === 'index.html';
      res.writeHead(missingIndex ? 503 : 404, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(missingIndex ? NOT_BUILT : 'not found');
    }
    res.setHeader('content-type', TYPES[extname(name)] ?? 'application/octet-stream');
    res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.setHeader('vary', 'accept-encoding');
    let body: Buffer = await readFile(path);
    if (acceptsGzip(req) && body.length > 1024) {
      let cached = gzipped.get(path);
      if (cached?.mtimeMs !== info.mtimeMs) gzipped.set(path, (cached = { mtimeMs: info.mtimeMs, body: gzipSync(body) }));
      body = cached.body;
      res.setHeader('content-encoding', 'gzip');
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  for (const page of PAGES) router.on('GET', page, ({ req, res }) => sendFile(req, res, 'index.html', false));
  router.on('GET', '/assets/:file', ({ req, res, params }) => {
    const file = params.file ?? '';
    if (!ASSET_NAME.test(file) || file.startsWith('.')) {
      securityHeaders(res);
      return void res.writeHead(404).end();
    }
    return sendFile(req, res, join('assets', file), true);
  });
}
