/**
 * The agent releases the controller serves at /agent/v1/releases: built from the checkout
 * when stale, public, byte for byte what release.json's SHA-256 says; earlier releases stay
 * served; a version that is not there is a 404, a bad one never reaches the disk.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgentRelease, sourceVersion } from '@toolbelt/droplet-agent/release-build';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentReleases } from '../../src/agent-releases.ts';
import { Router } from '../../src/http/router.ts';
import { HttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/logger.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(dir: string) {
  const logger = createLogger({ logLevel: 'silent', logFormat: 'json' });
  const router = new Router();
  const http = new HttpServer({ host: '127.0.0.1', port: 0, router, logger });
  const releases = new AgentReleases({ dir, publicUrl: () => http.url, logger });
  releases.mount(router);
  await releases.load();
  await http.start();
  cleanups.push(() => http.stop());
  return { http, releases };
}

describe('agent releases', () => {
  it('builds the current release, serves it and an earlier one publicly, and pins URL + SHA-256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolbelt-releases-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const earlier = await buildAgentRelease({ outDir: dir, version: '0.0.1-old' });
    const { http, releases } = await serve(dir);
    const version = await sourceVersion();
    expect(releases.current).toBe(version);

    const listed = (await (await fetch(`${http.url}/agent/v1/releases`)).json()) as { current: string; releases: { version: string; sha256: string; url: string }[] };
    expect(listed.current).toBe(version);
    expect(listed.releases.map((r) => r.version)).toEqual(['0.0.1-old', version]);

    const pin = releases.pin()!;
    expect(pin.url).toBe(`${http.url}/agent/v1/releases/${version}/agent.mjs`);
    // No credential: the release is public code; its integrity is the pinned hash.
    const res = await fetch(pin.url);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(pin.sha256);
    expect(body.equals(readFileSync(join(dir, version, 'agent.mjs')))).toBe(true);
    // Self-contained: no import of a workspace package or of tsx survives bundling.
    expect(body.toString()).not.toMatch(/from\s*["']@toolbelt\/|["']tsx["']/);

    const old = await fetch(releases.pin('0.0.1-old')!.url);
    expect(createHash('sha256').update(Buffer.from(await old.arrayBuffer())).digest('hex')).toBe(earlier.sha256);
    expect(releases.pin('9.9.9')).toBeUndefined();
    expect((await fetch(`${http.url}/agent/v1/releases/9.9.9/agent.mjs`)).status).toBe(404);
    expect((await fetch(`${http.url}/agent/v1/releases/..%2F..%2Fetc/agent.mjs`)).status).toBe(404);
  });

  it('refuses to start without the release asked for, naming the setting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolbelt-releases-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const logger = createLogger({ logLevel: 'silent', logFormat: 'json' });
    const releases = new AgentReleases({ dir, version: '7.7.7', publicUrl: () => 'http://x', logger });
    await expect(releases.load()).rejects.toThrow(/no agent release 7\.7\.7.*TOOLBELT_AGENT_VERSION/);
  });
});
