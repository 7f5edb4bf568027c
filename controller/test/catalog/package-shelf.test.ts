/**
 * The package shelf serves `npm pack` tarballs of the repository's own tools. Its directory
 * may be given relative to the controller's working directory (`./.toolbelt/data/packages`,
 * the default data dir): `npm pack` runs in the tool's own directory, so the shelf must not
 * hand it a relative destination (the quick start's install failed with a 500 that way).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { Router } from '../../src/http/router.ts';
import { HttpServer } from '../../src/http/server.ts';
import { PackageShelf } from '../../src/catalog/package-shelf.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('packs and serves the echo tool into a directory given relative to the working directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'toolbelt-shelf-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const router = new Router();
  const logger = pino({ level: 'silent' });
  const http = new HttpServer({ host: '127.0.0.1', port: 0, router, logger });
  const shelf = new PackageShelf({ dir: relative(process.cwd(), join(dir, 'packages')), logger, publicUrl: () => http.url });
  shelf.mount(router);
  await http.start();
  cleanups.push(() => http.stop());

  const res = await fetch(`${http.url}/v1/packages/toolbelt-echo-mcp-1.0.0.tgz`);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip
  expect((await fetch(`${http.url}/v1/packages/nothing-1.0.0.tgz`)).status).toBe(404);
}, 60_000);
