/**
 * Local droplets across controller lives, with a real controller process: a SIGTERM leaves
 * no local agent (or tool) running; after a controller killed outright, the next one kills
 * and removes what the dead one left, and a new droplet — whose simulator id repeats the old
 * one's — gets a directory of its own (no stale credential), enrolls and says hello.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, describe } from 'vitest';
import { startControllerProcess } from '../support/controller-process.ts';
import { eventually } from '../support/eventually.ts';

const FAST = {
  TOOLBELT_SIMULATOR_BOOT_MS: '200',
  TOOLBELT_SWEEP_FAST_MS: '200',
  TOOLBELT_SWEEP_STEADY_MS: '1000',
  TOOLBELT_CREATE_BATCH_WINDOW_MS: '50',
  TOOLBELT_ORPHAN_GRACE_MS: '0',
  TOOLBELT_LOCAL_DROPLETS: 'true',
  TOOLBELT_SEED_CATALOG: 'false',
};

/** Processes whose command line mentions `dir` (the local agents and their tools). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (cmdline.includes(dir) && stat.split(') ')[1]?.[0] !== 'Z') pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

describe('local droplets across controller lives (real controller process)', () => {
  it('SIGTERM leaves nothing running; after a SIGKILL the next life sweeps the leftovers and a new droplet enrolls', { timeout: 400_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'toolbelt-local-lives-'));
    const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
    const env = { ...FAST, TOOLBELT_ADMIN_TOKEN: adminToken, TOOLBELT_MASTER_KEY: randomBytes(32).toString('base64') };
    const life = async () => {
      const controller = startControllerProcess(['--port', '0', '--data-dir', dataDir], env);
      const url = await controller.ready;
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
        return { status: res.status, body: (await res.json().catch(() => undefined)) as { environment?: { last_heartbeat_at: string | null; droplet_id: number | null } } };
      };
      return { controller, call, since: Date.now() };
    };
    /** Waits for a heartbeat of the agent's droplet in this life (the database outlives lives). */
    const helloFrom = (current: Awaited<ReturnType<typeof life>>, name: string) =>
      eventually(async () => {
        const agent = (await current.call('GET', `/v1/agents/${name}`).catch(() => undefined))?.body;
        const at = agent?.environment?.last_heartbeat_at;
        return at && Date.parse(at) >= current.since ? agent.environment : undefined;
      }, `the agent of ${name} to say hello`, 120_000);
    const dropletDirs = () => readdirSync(join(dataDir, 'droplets')).filter((n) => !n.endsWith('.owner')).sort();
    const lives: Awaited<ReturnType<typeof life>>[] = [];
    try {
      // Life 1: a droplet boots and its agent says hello; SIGTERM leaves nothing behind.
      const first = await life();
      lives.push(first);
      expect((await first.call('POST', '/v1/agents', { name: 'one', environment: { active: true } })).status).toBe(201);
      await helloFrom(first, 'one');
      expect(processesUnder(dataDir).length).toBeGreaterThan(0);
      expect(await first.controller.stop('SIGTERM')).toBe(0);
      await eventually(async () => processesUnder(dataDir).length === 0, `no process left under ${dataDir}`, 30_000);

      // Life 2 recreates one's droplet (the simulator counts ids from the start again) and
      // boots two's, then is killed outright: its agents keep running.
      const second = await life();
      lives.push(second);
      expect((await second.call('POST', '/v1/agents', { name: 'two', environment: { active: true } })).status).toBe(201);
      await helloFrom(second, 'one');
      await helloFrom(second, 'two');
      const leftBehind = dropletDirs();
      await second.controller.stop('SIGKILL');
      expect(processesUnder(dataDir).length, 'a killed controller leaves its agents running').toBeGreaterThan(0);

      // Life 3: what life 2 left is killed and removed; the droplets it makes (same ids again)
      // get directories of their own, enroll and say hello.
      const third = await life();
      lives.push(third);
      await helloFrom(third, 'one');
      await helloFrom(third, 'two');
      const dirs = dropletDirs();
      expect(dirs).toHaveLength(2);
      expect(dirs.filter((d) => leftBehind.includes(d)), 'a directory of the killed life was reused').toEqual([]);
      expect(third.controller.lines.some((l) => typeof l.msg === 'string' && /left by an earlier controller/.test(l.msg))).toBe(true);
      expect(await third.controller.stop('SIGTERM')).toBe(0);
      await eventually(async () => processesUnder(dataDir).length === 0, `no process left under ${dataDir}`, 30_000);
    } finally {
      for (const current of lives) await current.controller.stop('SIGKILL');
      for (const pid of processesUnder(dataDir)) process.kill(pid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
