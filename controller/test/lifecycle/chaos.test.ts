/**
 * Chaos: the real controller process (`node --import tsx controller/src/main.ts`) on real
 * Postgres against a simulator over HTTP, killed with SIGKILL at random moments while it
 * converges — at least 20 times per run, the desired state changing between lives — then
 * left to finish. Every droplet boots a real droplet agent from its user_data (local
 * droplets, in this test process, so they outlive the controller) that enrolls and dials
 * the controller's hub on a fixed port, redialling each new life. In the end: exactly one
 * droplet per enabled agent, none for the others, no orphans, every enabled environment
 * Ready with its agent connected, one agent process per droplet, and no moment with two
 * live droplets of one name. Once on a clean API, once with 20 % 5xx, 429 storms and lost
 * create answers.
 *
 * Postgres only: PGlite is one process's database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, type Environment, listEnvironments, listEvents, updateAgentSpec } from '@toolbelt/schema';
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import {
  createLocalDroplets,
  type DropletInfo,
  type FaultRule,
  type LocalDroplets,
  type Simulator,
  type SimulatorHooks,
  startSimulator,
} from '@toolbelt/simulator';
import { afterEach, expect } from 'vitest';
import { onPostgres } from '../support/databases.ts';
import { freePort } from '../support/ports.ts';
import { type ControllerProcess, startControllerProcess } from '../support/controller-process.ts';
import { seedAgents } from './harness.ts';
import { eventually } from '../support/eventually.ts';

const KILLS = Number(process.env.TOOLBELT_CHAOS_KILLS ?? 20);
/** Each is a real agent process (node + tsx, ~100 MiB) while its droplet runs. */
const AGENTS = 16;

/** Watches the simulator for two live droplets of one name (a duplicate), however brief. */
function watchDuplicates(sim: Simulator): { stop(): void; duplicates: Set<string> } {
  const duplicates = new Set<string>();
  const timer = setInterval(() => {
    const seen = new Set<string>();
    for (const d of sim.state.listDroplets()) {
      if (seen.has(d.name)) duplicates.add(d.name);
      seen.add(d.name);
    }
  }, 10);
  return { stop: () => clearInterval(timer), duplicates };
}

function controllerEnv(sim: Simulator, url: string, port: number): Record<string, string> {
  return {
    DATABASE_URL: url,
    DIGITALOCEAN_TOKEN: sim.token,
    DIGITALOCEAN_API_URL: sim.url,
    PORT: String(port),
    TOOLBELT_AGENT_URL: `ws://127.0.0.1:${port}/agent/v1`,
    TOOLBELT_LEASE_TTL_MS: '1500',
    TOOLBELT_LEASE_RENEW_MS: '450',
    TOOLBELT_RESYNC_INTERVAL_MS: '5000',
    TOOLBELT_SWEEP_FAST_MS: '250',
    TOOLBELT_SWEEP_STEADY_MS: '2000',
    TOOLBELT_CREATE_BATCH_WINDOW_MS: '50',
    TOOLBELT_ORPHAN_GRACE_MS: '0',
    LOG_LEVEL: process.env.TOOLBELT_CHAOS_LOG_LEVEL ?? 'info',
  };
}

const led = (c: ControllerProcess) => c.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('became the leader'));

/** Random 0..max ms. */
const jitter = (max: number) => Math.floor(Math.random() * max);

async function flipSome(db: Db, agents: { agentId: string }[], enabled: Set<string>): Promise<void> {
  for (const { agentId } of agents) {
    if (Math.random() >= 0.3) continue;
    const next = !enabled.has(agentId);
    if (next) enabled.add(agentId);
    else enabled.delete(agentId);
    await updateAgentSpec(db, agentId, { tool_environment_active: next });
  }
}

/** What is wrong with one environment at the end, if anything. */
function envProblem(env: Environment, enabled: boolean, droplets: DropletInfo[]): string | undefined {
  if (!enabled) {
    const clean = ['deleted', 'pending'].includes(env.status) && env.droplet_id === null;
    return clean ? undefined : `disabled env ${env.id} is ${env.status} with droplet ${env.droplet_id}`;
  }
  const droplet = droplets.find((d) => d.name === `tb-${env.id}`);
  const isTrue = (type: string) => env.conditions.find((c) => c.type === type)?.status === 'True';
  const fine = env.status === 'active' && isTrue('Ready') && isTrue('AgentConnected') && env.droplet_id === droplet?.id && droplet?.status === 'active';
  return fine ? undefined : `env ${env.id} is ${env.status} (${env.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(', ')})`;
}

/** Checks the end state: one droplet per enabled environment, nothing else, all Ready, one agent each. */
async function converged(db: Db, sim: Simulator, machines: ReturnType<typeof localDroplets>, enabled: Set<string>): Promise<string | undefined> {
  const envs = await listEnvironments(db, { limit: 1000 });
  const droplets = sim.state.listDroplets();
  const wanted = new Set(envs.filter((e) => enabled.has(e.agent_id)).map((e) => `tb-${e.id}`));
  const names = droplets.map((d) => d.name).sort();
  if (names.length !== wanted.size || names.some((n) => !wanted.has(n))) return `droplets ${names.length}, wanted ${wanted.size}`;
  for (const env of envs) {
    const problem = envProblem(env, enabled.has(env.agent_id), droplets);
    // What its droplet did says why (an agent that never started, never enrolled, ...).
    if (problem) return `${problem}; its droplet ${env.droplet_id} logged ${JSON.stringify(machines.linesOf(env.droplet_id))}`;
  }
  const agents = machines.local.running().sort();
  const ids = droplets.map((d) => d.id).sort();
  if (JSON.stringify(agents) !== JSON.stringify(ids)) return `agent processes on droplets ${agents.join(',')}, droplets ${ids.join(',')}`;
  return undefined;
}

/** Local droplets in this process: real agents that outlive every controller life. */
function localDroplets(): { local: LocalDroplets; hooks: SimulatorHooks; linesOf(dropletId: number | null): string[]; remove(): Promise<void> } {
  const root = mkdtempSync(join(tmpdir(), 'toolbelt-chaos-'));
  const lines: string[] = [];
  // Agents redial a restarted controller within 2 s (the default backoff grows to 60 s).
  const local = createLocalDroplets({ root, reconnect: { initialDelayMs: 250, maxDelayMs: 2_000 }, log: (line) => lines.push(line) });
  return {
    local,
    hooks: local.hooks,
    linesOf: (dropletId) => lines.filter((l) => dropletId !== null && l.startsWith(`droplet ${dropletId}:`)),
    async remove() {
      await local.stopAll();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function chaosRun(db: Db, url: string, faults: readonly FaultRule[]): Promise<void> {
  const droplets = localDroplets();
  const sim = await startSimulator({ bootDelayMs: { minMs: 200, maxMs: 1500 }, actionDurationMs: { minMs: 100, maxMs: 400 }, faults, ...droplets.hooks });
  const watcher = watchDuplicates(sim);
  const port = await freePort();
  try {
    const agents = await seedAgents(db, AGENTS, `chaos-${faults.length}`, true);
    const enabled = new Set(agents.map((a) => a.agentId));
    for (let kill = 0; kill < KILLS; kill += 1) {
      const controller = startControllerProcess(['server'], controllerEnv(sim, url, port));
      await controller.ready;
      await eventually(() => led(controller), () => 'the controller never led', 30_000);
      await new Promise((r) => setTimeout(r, jitter(1500)));
      controller.child.kill('SIGKILL');
      await controller.exited;
      await flipSome(db, agents, enabled);
    }
    sim.faults.clear(); // the finish need not take forever; duplicates were the risk
    const last = startControllerProcess(['server'], controllerEnv(sim, url, port));
    try {
      await last.ready;
      let state: string | undefined = 'not checked';
      await eventually(
        async () => (state = await converged(db, sim, droplets, enabled)) === undefined,
        () => `not converged: ${state}; warnings ${JSON.stringify(last.lines.filter((l) => (l.level as number) >= 40).slice(-5))}`,
        90_000,
      );
    } finally {
      expect(await last.stop('SIGTERM')).toBe(0);
    }
    expect([...watcher.duplicates]).toEqual([]);
    const events = await listEvents(db, { objectKind: 'environment', limit: 10_000 });
    const reasons = events.map((e) => e.reason);
    const histogram: Record<string, number> = {};
    for (const e of events) histogram[e.reason] = (histogram[e.reason] ?? 0) + e.count;
    console.info(`chaos (${faults.length} fault rules): events ${JSON.stringify(histogram)}; simulator ${JSON.stringify(sim.stats.requests)}`);
    expect(reasons).not.toContain('DuplicateDeleted');
    expect(reasons).toContain('DropletCreated');
    expect((await listEvents(db, { objectKind: 'droplet', limit: 100 })).filter((e) => e.reason === 'OrphanDeleted')).toEqual([]);
  } finally {
    watcher.stop();
    await sim.close();
    await droplets.remove();
  }
}

describeEachDatabase('lifecycle chaos (controller processes, SIGKILL)', (t) => {
  const onPg = onPostgres(t, 'controller processes share the test database; a PGlite data dir belongs to one process');
  afterEach(() => truncateAll(t.db));

  onPg(`converges to one droplet per enabled agent across ${KILLS} SIGKILLs`, async () => {
    await chaosRun(t.db, t.url!, []);
  }, 240_000);

  onPg(`converges across ${KILLS} SIGKILLs with 20 % 5xx, 429 storms and lost create answers`, async () => {
    await chaosRun(t.db, t.url!, [
      { method: 'POST', path: '/v2/droplets', rate: 0.25, fault: { kind: 'loseAnswer' } },
      { rate: 0.2, fault: { kind: 'error', status: 503 } },
      { rate: 0.05, fault: { kind: 'rateLimit', retryAfterSeconds: 1 } },
    ]);
  }, 240_000);
});
