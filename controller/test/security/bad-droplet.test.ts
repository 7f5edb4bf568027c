/**
 * "One bad droplet": one droplet credential floods its socket *within* the flood limits
 * (1000-tool inventories of invented ids, statuses of further invented tools, another
 * droplet's secrets and logs) while 50 good light agents heartbeat and the API is called.
 * Quiet and flooding periods alternate in one run, so every bound is a ratio against the
 * baseline measured beside it on the same (loaded) machine: API p99 and heartbeat ingest
 * stay within 2× the baseline, the lease is never lost, orphans and events stay bounded.
 */
import { fileURLToPath } from 'node:url';
import { rowsOf } from '@toolbelt/schema';
import { MAX_ORPHANS_PER_RECONCILE } from '@toolbelt/reconcilers';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import type { RunningController } from '../../src/controller.ts';
import { bulkEnrolledEnvironments, makeTool } from '../support/rows.ts';
import { onPostgres } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { LightAgentsProcess } from '../support/light-agents-process.ts';
import { startSocketController } from './agent-socket-controller.ts';
import { Child } from '../support/children.ts';
import type { FlooderReport } from './flooder.ts';

const FLOODER = fileURLToPath(new URL('./flooder.ts', import.meta.url));
const ROUNDS = Number(process.env.BAD_DROPLET_ROUNDS ?? 3);
const PERIOD_MS = Number(process.env.BAD_DROPLET_PERIOD_MS ?? 3000);
const GOOD_AGENTS = 50;

interface Period {
  kind: 'quiet' | 'flood';
  leaseLost?: boolean;
  p99: number;
  latencies: number[];
  /** Heartbeats the hub received per heartbeat the light agents sent. */
  ingest: number;
  flushMs: number;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};
const median = (values: number[]) => quantile(values, 0.5);

/** Calls the API one request after another for `ms`; returns each call's latency. */
async function callApi(controller: RunningController, token: string, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const started = performance.now();
    const res = await fetch(`${controller.url}/v1/agents?limit=100`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/**
 * On Postgres (the production shape: replicas, a lease that can be lost). Embedded PGlite
 * runs every query on the controller's own thread, so a flood's database work is CPU taken
 * from the API directly; its figures are in docs/performance.md, not held to 2× here — the
 * case is not declared for PGlite unless BAD_DROPLET_PGLITE=1 asks for those figures.
 */
describeEachDatabase('one bad droplet', (t) => {
  const onPg = process.env.BAD_DROPLET_PGLITE === '1' ? it : onPostgres(t, 'its PGlite figures are in docs/performance.md (BAD_DROPLET_PGLITE=1 runs it)');
  onPg('floods within its limits: API p99 and heartbeat ingest stay within 2x the baseline, the lease holds', async () => {
    const server = await startSocketController(t, { logLevel: 'warn' });
    const { controller, adminToken, agentUrl } = server;
    const [bad, ...good] = await bulkEnrolledEnvironments(t.db, GOOD_AGENTS + 1);
    // The bad droplet is a live environment, so the tools reconciler acts on what it reports.
    await t.db.execute(sql`update agent_droplets set droplet_id = 990001, status = 'active', ip_address = '127.0.0.1' where id = ${bad!.environmentId}`);
    await t.db.execute(sql`update agents set tool_environment_active = true where id = (select agent_id from agent_droplets where id = ${bad!.environmentId})`);
    const foreign = await makeTool(t.db, good[0]!.environmentId);
    const light = await LightAgentsProcess.start({ url: agentUrl, tokens: good.map((g) => g.token), heartbeatMs: 250, reconnect: { initialMs: 500, maxMs: 2000 } });
    const flooder = await Child.start<FlooderReport>(FLOODER, {
      url: agentUrl,
      token: bad!.token,
      foreignToolId: foreign.id,
      inventorySize: 1000,
      perSecond: JSON.parse(process.env.BAD_DROPLET_FLOOD ?? '{"inventories":1,"toolStatuses":60,"crossDroplet":30}'),
    });
    const elector = controller.loop!.elector;
    try {
      await eventually(async () => (await light.report()).open === GOOD_AGENTS && elector.isLeader, 'the good agents connected and the controller leading', 60_000);
      const epoch = elector.epoch;
      const periods: Period[] = [];
      let leaseLost = false;
      const watch = setInterval(() => (leaseLost ||= !elector.isLeader || elector.epoch !== epoch), 100);
      try {
        await callApi(controller, adminToken, 3000); // warm up
        for (let round = 0; round < ROUNDS; round += 1) {
          for (const kind of ['quiet', 'flood'] as const) {
            await flooder.request({ type: kind === 'flood' ? 'flood' : 'pause' }, kind === 'flood' ? 'flooding' : 'paused');
            const lostBefore = leaseLost;
            periods.push({ ...(await measure(kind, controller, adminToken, light)), leaseLost: leaseLost && !lostBefore });
          }
        }
      } finally {
        clearInterval(watch);
        await flooder.request({ type: 'pause' }, 'paused');
      }
      const quiet = periods.filter((p) => p.kind === 'quiet');
      const flood = periods.filter((p) => p.kind === 'flood');
      // p99 over every call of a kind (a period alone has too few calls on a loaded machine).
      const p99Of = (list: Period[]) => Math.round(quantile(list.flatMap((p) => p.latencies), 0.99) * 10) / 10;
      const figures = {
        calls: { quiet: quiet.flatMap((p) => p.latencies).length, flood: flood.flatMap((p) => p.latencies).length },
        p99: { quiet: p99Of(quiet), flood: p99Of(flood) },
        ingest: { quiet: median(quiet.map((p) => p.ingest)), flood: median(flood.map((p) => p.ingest)) },
        flushMs: { quiet: median(quiet.map((p) => p.flushMs)), flood: median(flood.map((p) => p.flushMs)) },
      };
      const sent = await flooder.report();
      const stored = await boundsOf(t, bad!.environmentId);
      console.log(JSON.stringify({ kind: t.kind, figures, periods: periods.map(({ latencies: _, ...p }) => p), flooder: { ...sent, received: sent.received.length }, stored }));

      expect(leaseLost, 'the leader lost its lease').toBe(false);
      expect(sent.framesSent, 'the flooder sent little').toBeGreaterThan(ROUNDS * 100);
      expect(figures.p99.flood, `API p99 ${JSON.stringify(figures.p99)}`).toBeLessThanOrEqual(2 * figures.p99.quiet);
      expect(figures.ingest.flood, `heartbeat ingest ${JSON.stringify(figures.ingest)}`).toBeGreaterThanOrEqual(figures.ingest.quiet / 2);
      // What one droplet's invented tools may become: bounded rows, commands and events.
      expect(stored.observations).toBeLessThanOrEqual(50);
      expect(stored.commands, 'open orphan uninstalls').toBeLessThanOrEqual(2 * MAX_ORPHANS_PER_RECONCILE);
      expect(stored.events).toBeLessThanOrEqual(60);
      expect(sent.received.some((frame) => frame.includes('"values"')), 'a secret value reached the bad droplet').toBe(false);
    } finally {
      await flooder.stop();
      await light.stop();
      await server.stop();
    }
  }, 180_000);
});

async function measure(kind: Period['kind'], controller: RunningController, token: string, light: LightAgentsProcess): Promise<Period> {
  const hubBefore = controller.hub.stats();
  const lightBefore = await light.report();
  const latencies = await callApi(controller, token, PERIOD_MS);
  const hubAfter = controller.hub.stats();
  const lightAfter = await light.report();
  const flushes = hubAfter.heartbeatFlushes - hubBefore.heartbeatFlushes;
  return {
    kind,
    p99: Math.round(quantile(latencies, 0.99) * 10) / 10,
    latencies,
    ingest: (hubAfter.heartbeatsReceived - hubBefore.heartbeatsReceived) / Math.max(1, lightAfter.heartbeats - lightBefore.heartbeats),
    flushMs: flushes > 0 ? Math.round(((hubAfter.heartbeatFlushMsTotal - hubBefore.heartbeatFlushMsTotal) / flushes) * 10) / 10 : 0,
  };
}

/** What the bad droplet left in the store: its observation rows, uninstall commands, events. */
async function boundsOf(t: { db: Parameters<typeof bulkEnrolledEnvironments>[0] }, environmentId: string) {
  const count = async (query: ReturnType<typeof sql>) => Number(rowsOf<{ n: number }>(await t.db.execute(query))[0]!.n);
  return {
    observations: await count(sql`select count(*)::int as n from agent_tool_observations where agent_droplet_id = ${environmentId}`),
    commands: await count(sql`select count(*)::int as n from commands where agent_droplet_id = ${environmentId}`),
    events: await count(sql`select count(*)::int as n from events`),
  };
}
