/**
 * The production build (`npm run build`): bundled JavaScript with its production
 * dependencies only — no tsx, no TypeScript — that migrates and serves a Postgres database,
 * serves the package shelf packed at build time, and writes nothing beside itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startControllerProcess } from './support/controller-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'toolbelt-build-'));
const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-build-run-'));

/** Every file under `dir` with its size and mtime: what a run must leave as it was. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      const stat = statSync(path);
      return `${relative(dir, path)} ${stat.size} ${stat.mtimeMs}`;
    })
    .sort();
}

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describeEachDatabase('production build', (t) => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--out', out], { stdio: 'pipe' });
    execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
      cwd: out,
      stdio: 'pipe',
    });
  }, 600_000);

  it('holds bundles and production dependencies only', () => {
    expect(existsSync(join(out, 'bin/controller.mjs'))).toBe(true);
    expect(existsSync(join(out, 'drizzle/meta/_journal.json'))).toBe(true);
    expect(readdirSync(join(out, 'agent-releases')).length).toBeGreaterThan(0);
    for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild', 'drizzle-kit']) {
      expect(existsSync(join(out, 'node_modules', dev)), `${dev} in the build's node_modules`).toBe(false);
    }
    expect(readdirSync(join(out, 'bin')).filter((f) => f.endsWith('.ts'))).toEqual([]);
  });

  it('migrates, serves /readyz and the prepacked shelf, and writes nothing beside itself', async () => {
    const before = tree(out);
    const entry = [join(out, 'bin/controller.mjs')];
    const env =
      t.kind === 'postgres'
        ? { DATABASE_URL: t.url, TOOLBELT_LOCAL_DROPLETS: 'false' }
        : { TOOLBELT_DATA_DIR: join(scratch, 'data'), TOOLBELT_LOCAL_DROPLETS: 'false' };
    const migrate = startControllerProcess(['migrate'], env, entry);
    expect(await migrate.exited).toBe(0);
    const server = startControllerProcess(['server', '--port', '0'], env, entry);
    const url = await server.ready;
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    const shelf = await fetch(`${url}/v1/packages/toolbelt-echo-mcp-1.0.0.tgz`);
    expect(shelf.status).toBe(200);
    expect((await shelf.arrayBuffer()).byteLength).toBeGreaterThan(500);
    // The droplet agent's release was built with it and is served from dist/agent-releases/.
    const releases = await fetch(`${url}/agent/v1/releases`);
    expect(releases.status).toBe(200);
    expect(((await releases.json()) as { releases: unknown[] }).releases.length).toBeGreaterThan(0);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(tree(out)).toEqual(before);
  }, 180_000);
});
