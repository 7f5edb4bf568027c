/**
 * The droplet lifecycle in one process, for tests and the benchmark: a real simulator over
 * HTTP, the real provider, fleet cache, sweep source, create batcher and reconcilers, run by
 * the real loop runner (no election: the fence is open) on a test database.
 */
import { createAgent, createEnvironment, type Db, listEvents, updateAgentSpec } from '@toolbelt/schema';
import type { Event } from '@toolbelt/schema';
import { type Simulator, type SimulatorOptions, startSimulator } from '@toolbelt/simulator';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config.ts';
import { NO_AGENT_RELEASE } from '../../src/agent-releases.ts';
import { createLifecycle, type Lifecycle } from '../../src/lifecycle.ts';
import { LoopRunner } from '../../src/loop/runner.ts';

export interface Harness {
  sim: Simulator;
  lifecycle: Lifecycle;
  runner: LoopRunner;
  /** Log lines at warn level and above (parsed). */
  warnings: Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface HarnessOptions {
  db: Db;
  simulator?: SimulatorOptions;
  /** Controller settings as environment variables (TOOLBELT_…), over the test defaults. */
  env?: Record<string, string>;
  workers?: number;
  /** Runs once the simulator is up, before the controller side starts (e.g. leftovers of a dead controller). */
  prepare?: (sim: Simulator) => Promise<void>;
}

/**
 * Fast timings: droplets boot in under a second, sweeps every 200 ms while they do. These
 * droplets run no agent (the agent's part is tested with local droplets: agent-lifecycle
 * test), so Ready is the droplet's.
 */
export const FAST_ENV: Record<string, string> = {
  TOOLBELT_AGENT_REQUIRED: 'false',
  TOOLBELT_SWEEP_FAST_MS: '200',
  TOOLBELT_SWEEP_STEADY_MS: '2000',
  TOOLBELT_CREATE_BATCH_WINDOW_MS: '50',
  TOOLBELT_ORPHAN_GRACE_MS: '0',
  TOOLBELT_AGENT_URL: 'ws://127.0.0.1:9/agent/v1',
};

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const sim = await startSimulator({ bootDelayMs: { minMs: 200, maxMs: 800 }, actionDurationMs: { minMs: 100, maxMs: 300 }, ...options.simulator });
  await options.prepare?.(sim);
  const config = parseConfig([], { ...FAST_ENV, DIGITALOCEAN_TOKEN: sim.token, DIGITALOCEAN_API_URL: sim.url, ...options.env });
  const warnings: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
  const registry = new Registry();
  const runner = new LoopRunner({
    db: options.db,
    logger,
    registry,
    workersPerKind: options.workers ?? 8,
    resyncIntervalMs: 60_000,
    backoff: { baseMs: 100, maxMs: 2_000 },
  });
  const lifecycle = await createLifecycle({ config, db: options.db, logger, sink: runner, registry, defaultAgentUrl: () => 'ws://127.0.0.1:9/agent/v1', agentRelease: () => NO_AGENT_RELEASE });
  runner.register(...lifecycle.reconcilers).watch(lifecycle.sweeper);
  const abort = new AbortController();
  for (const component of lifecycle.leaderComponents) await component.start(abort.signal);
  await runner.start(abort.signal);
  return {
    sim,
    lifecycle,
    runner,
    warnings,
    async stop() {
      abort.abort();
      await runner.stop();
      for (const component of [...lifecycle.leaderComponents].reverse()) await component.stop();
      runner.dispose();
      await lifecycle.close();
      await sim.close();
    },
  };
}

/** Creates `n` agents with environments (nyc3, s-1vcpu-1gb), switched on or off; returns agent ids. */
export async function seedAgents(db: Db, n: number, prefix: string, active = true): Promise<{ agentId: string; envId: string }[]> {
  const out: { agentId: string; envId: string }[] = [];
  for (let i = 0; i < n; i += 1) {
    const agent = await createAgent(db, { name: `${prefix}-${i}`, tool_environment_active: active });
    if (agent.kind !== 'ok') throw new Error(agent.reason);
    const env = await createEnvironment(db, agent.value.id, { region: 'nyc3', size: 's-1vcpu-1gb' });
    if (env.kind !== 'ok') throw new Error(env.reason);
    out.push({ agentId: agent.value.id, envId: env.value.id });
  }
  return out;
}

/** Switches agents' environments on or off and enqueues them (what the API does). */
export async function setActive(db: Db, runner: LoopRunner, agentIds: readonly string[], active: boolean): Promise<void> {
  for (const id of agentIds) {
    await updateAgentSpec(db, id, { tool_environment_active: active });
    runner.enqueue('environment', id, { source: 'test' });
  }
}

/** Events about one environment key, oldest first. */
export async function eventsOf(db: Db, kind: string, id: string): Promise<Event[]> {
  return (await listEvents(db, { objectKind: kind, objectId: id, limit: 500 })).reverse();
}
