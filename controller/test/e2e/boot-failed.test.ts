/**
 * Boot failures are contained, end to end: the whole controller with the embedded simulator
 * whose droplets are real local droplets, serving a broken agent release (same layout as a
 * real one, its hash pinned in user_data; its `agent.mjs` exits 1 at start). Every droplet
 * downloads it, verifies it, runs it with plain node — and never says hello.
 *
 * Expected: the droplet is power-cycled, replaced exactly TOOLBELT_BOOT_RETRIES times with a
 * growing wait, then the environment stops in `error` with condition BootFailed, its last
 * droplet deleted, no further droplet created, a Warning event and the gauge at 1; `toolbelt
 * env retry` starts it over (the same number of tries again).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterEach, expect, it } from 'vitest';
import { toolbelt } from '../cli/run-toolbelt.ts';
import { type E2E, startE2E } from '../support/e2e.ts';
import { eventually } from '../support/eventually.ts';

const RETRIES = 2;
const BROKEN = '0.0.1-broken';

const SETTINGS: Record<string, string> = {
  TOOLBELT_AGENT_VERSION: BROKEN,
  TOOLBELT_AGENT_HEARTBEAT_MS: '1000',
  TOOLBELT_AGENT_SILENCE_GRACE_MS: '3000',
  TOOLBELT_AGENT_HELLO_GRACE_MS: '2000',
  TOOLBELT_REPLACE_AFTER_MS: '1500',
  TOOLBELT_BOOT_RETRIES: String(RETRIES),
  // Longer than confirming a delete takes here (~2 s), so that the wait shows.
  TOOLBELT_BOOT_RETRY_DELAY_MS: '3000',
};

interface Environment {
  status: string;
  droplet_id: number | null;
  boot_failures: number;
  conditions: { type: string; status: string; reason: string; message: string }[];
}

let e2e: E2E | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A release directory holding one release whose agent exits at start (laid out as a real one). */
function brokenReleases(): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolbelt-broken-releases-'));
  dirs.push(dir);
  const code = Buffer.from(`console.error('broken agent ${BROKEN}: exiting at start');\nprocess.exit(1);\n`);
  mkdirSync(join(dir, BROKEN));
  writeFileSync(join(dir, BROKEN, 'agent.mjs'), code);
  const release = { version: BROKEN, sha256: createHash('sha256').update(code).digest('hex'), bytes: code.length };
  writeFileSync(join(dir, BROKEN, 'release.json'), JSON.stringify(release));
  return dir;
}

const bootFailed = (env: Environment) => env.conditions.find((c) => c.type === 'BootFailed');

interface EventRow {
  reason: string;
  count: number;
  first_seen: string;
}

/** The environment's events (the lifecycle's object is keyed by agent id), oldest first. */
async function events(e: E2E): Promise<EventRow[]> {
  const agent = (await e.call('GET', '/v1/agents/broken')).body as { id: string };
  const answer = await e.call('GET', `/v1/events?object=environment/${agent.id}&limit=200`);
  return (answer.body as { items: EventRow[] }).items.sort((a, b) => Date.parse(a.first_seen) - Date.parse(b.first_seen));
}

/** Sums the counts of the environment's events of `reason`. */
async function eventCount(e: E2E, reason: string): Promise<number> {
  return (await events(e)).filter((x) => x.reason === reason).reduce((n, x) => n + x.count, 0);
}

/** From each Replacing to the next DropletCreated, in ms (each replaced droplet's message differs: one row each). */
async function waitsBeforeCreate(e: E2E): Promise<number[]> {
  const list = await events(e);
  const at = (reason: string) => list.filter((x) => x.reason === reason).map((x) => Date.parse(x.first_seen));
  const created = at('DropletCreated');
  return at('Replacing').map((replacing) => (created.find((c) => c > replacing) ?? NaN) - replacing);
}

async function gauge(e: E2E): Promise<string | undefined> {
  const text = (await e.call('GET', '/metrics')).text;
  return /^toolbelt_environments_boot_failed (\d+)$/m.exec(text)?.[1];
}

describeEachDatabase('boot failures (a broken agent release, local droplets, end to end)', (t) => {
  it(
    `replaces droplets whose agent never starts ${RETRIES} times, then stops in BootFailed; env retry starts over`,
    async () => {
      const e = (e2e = await startE2E(t, { ...SETTINGS, TOOLBELT_AGENT_RELEASES_DIR: brokenReleases() }));
      const sim = e.controller.lifecycle!.simulator!;
      const local = e.controller.localDroplets!;
      const get = async () => (await e.call('GET', '/v1/agents/broken/environment')).body as Environment;
      const creates = () => sim.stats.calls('POST', '/v2/droplets');
      expect(await gauge(e)).toBe('0');

      expect((await e.call('POST', '/v1/agents', { name: 'broken', environment: { active: true } })).status).toBe(201);
      const stopped = await eventually(
        async () => {
          const env = await get();
          return bootFailed(env)?.status === 'True' ? env : undefined;
        },
        async () => `never BootFailed: ${JSON.stringify(await get())}`,
        180_000,
      );
      expect(stopped.status).toBe('error');
      expect(stopped.boot_failures).toBe(RETRIES + 1);
      const message = bootFailed(stopped)!.message;
      expect(message).toContain(`${RETRIES + 1} droplets tried`);
      expect(message).toMatch(/last droplet \d+, last seen: the droplet agent never said hello/);
      expect(message).toContain('the agent was never heard from');
      expect(stopped.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'BootFailed' });
      // The droplets did install the pinned release (its hash checked) and run it: it exited.
      const logs = e.logs.join('\n');
      expect(logs).toContain(`agent ${BROKEN} installed (sha256`);
      expect(logs).toMatch(/agent exited \(1\)/);

      // Exactly RETRIES replacements: RETRIES + 1 droplets, each power-cycled once first.
      expect(creates()).toBe(RETRIES + 1);
      expect(await eventCount(e, 'Replacing')).toBe(RETRIES);
      expect(await eventCount(e, 'PowerCycled')).toBe(RETRIES + 1);
      expect(await eventCount(e, 'BootFailed')).toBe(1);
      expect(await gauge(e)).toBe('1');
      // A growing wait: the second replacement waited twice as long as the first.
      const delay = Number(SETTINGS.TOOLBELT_BOOT_RETRY_DELAY_MS);
      const waits = await waitsBeforeCreate(e);
      expect(waits).toHaveLength(RETRIES);
      waits.forEach((waited, i) => expect(waited, `wait ${i + 1} of ${JSON.stringify(waits)}`).toBeGreaterThanOrEqual(delay * 2 ** i - 250));

      // The last droplet is deleted: nothing is left billing, on DigitalOcean or on this machine.
      await eventually(
        async () => sim.state.listDroplets().length === 0 && local.running().length === 0 && (await get()).droplet_id === null,
        async () => `a droplet is left: ${JSON.stringify(sim.state.listDroplets().map((d) => d.id))} ${JSON.stringify(await get())}`,
        60_000,
      );
      // And it stays stopped: no droplet over several times what a whole attempt takes.
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      expect(creates()).toBe(RETRIES + 1);
      expect(await get()).toMatchObject({ status: 'error', boot_failures: RETRIES + 1, droplet_id: null });
      expect(await eventCount(e, 'BootFailed')).toBe(1);

      // env retry: the count is cleared and the same number of tries starts again.
      const retried = await toolbelt(['env', 'retry', 'broken'], { env: { TOOLBELT_SERVER: e.controller.url, TOOLBELT_TOKEN: e.adminToken } });
      expect(retried.code, retried.stderr).toBe(0);
      expect(retried.stdout).toMatch(new RegExp(`${RETRIES + 1} boot failures cleared`));
      await eventually(
        async () => (await eventCount(e, 'BootFailed')) === 2,
        async () => `not BootFailed again after the retry: ${JSON.stringify(await get())}`,
        180_000,
      );
      expect(await eventCount(e, 'BootRetry')).toBe(1);
      expect(creates()).toBe(2 * (RETRIES + 1));
      expect(await eventCount(e, 'Replacing')).toBe(2 * RETRIES);
    },
    420_000,
  );
});
