/**
 * Two controller replicas on one real Postgres, as deployed behind a load balancer:
 * - agent events reach the leader's loop at once wherever the agent's socket landed (a
 *   follower forwards them), as fast as from an agent on the leader itself;
 * - a replica that stops (what SIGTERM does) drains: not ready, no new sockets, its agents
 *   told to reconnect a few at a time; they land on the other replica, and of the commands
 *   issued meanwhile none is lost and none runs twice (100 light agents);
 * - a replica that cannot reach Postgres is not ready, and is again once it can.
 * PGlite is one process's database: Postgres only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Db, enqueueCommand, getCommand, rowsOf } from '@toolbelt/schema';
import { encodeMessage } from '@toolbelt/schema/protocol';
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, expect } from 'vitest';
import { WebSocket } from 'ws';
import { parseConfig } from '../../src/config.ts';
import { type RunningController, startController } from '../../src/controller.ts';
import type { Reconciler } from '../../src/loop/index.ts';
import { eventually } from '../support/eventually.ts';
import { onPostgres } from '../support/databases.ts';
import { captureLogger, scripted } from '../support/loop.ts';
import { bulkEnrolledEnvironments } from '../support/rows.ts';

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-replicas-'));
const running = new Set<RunningController>();
const tokens = new Map<RunningController, string>();
const agents = new Set<LightAgent>();
const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });

afterEach(async () => {
  for (const agent of agents) agent.stop();
  agents.clear();
  await Promise.all([...running].map((c) => c.stop()));
  running.clear();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A droplet agent reduced to what these tests need: it says hello, runs each command once
 * (a command sent again is answered from memory, as the droplet agent does), and on a
 * closed socket or a refused upgrade dials the next replica after a short jittered pause —
 * what a load balancer in front of the replicas gives a real agent.
 */
class LightAgent {
  /** Commands run (each once), and how many times commands arrived (re-sends included). */
  readonly ran = new Set<string>();
  deliveries = 0;
  readonly dialled: string[] = [];
  #socket: WebSocket | undefined;
  #next = 0;
  #stopped = false;

  constructor(
    readonly environmentId: string,
    readonly token: string,
    readonly urls: () => string[],
  ) {
    agents.add(this);
  }

  get open(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  /** The replica it is connected to now, if any. */
  get at(): string | undefined {
    return this.open ? this.dialled.at(-1) : undefined;
  }

  dial(): void {
    if (this.#stopped) return;
    const urls = this.urls();
    const url = urls[this.#next % urls.length]!;
    this.dialled.push(url);
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.token}` } });
    this.#socket = socket;
    socket.on('open', () =>
      socket.send(
        encodeMessage({
          type: 'hello',
          agentVersion: '0.1.0-light',
          protocolVersion: 1,
          droplet: { hostname: `tb-${this.environmentId}` },
          runtimes: ['process'],
          inventory: [],
          startedAt: new Date().toISOString(),
        }),
      ),
    );
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; commandId?: string };
      if (message.type !== 'command' || !message.commandId) return;
      this.deliveries += 1;
      const { commandId } = message;
      this.ran.add(commandId);
      socket.send(encodeMessage({ type: 'command_result', commandId, status: 'done', message: 'ran once' }));
    });
    socket.on('error', () => {});
    socket.on('unexpected-response', () => socket.terminate());
    socket.on('close', () => {
      if (this.#stopped || this.#socket !== socket) return;
      this.#next += 1;
      setTimeout(() => this.dial(), 50 + Math.floor(Math.random() * 200));
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#socket?.terminate();
  }
}

describeEachDatabase('two controller replicas', (t) => {
  const onPg = onPostgres(t, 'two replicas need two database sessions; PGlite is one');
  afterEach(() => truncateAll(t.db));

  async function replica(name: string, env: Record<string, string> = {}, reconcilers: Reconciler[] = [], databaseUrl = t.url!): Promise<RunningController> {
    const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
    const config = parseConfig(
      ['--port', '0', '--replica-id', name, '--database-url', databaseUrl, '--data-dir', join(scratch, name)],
      {
        TOOLBELT_ADMIN_TOKEN: adminToken,
        TOOLBELT_MASTER_KEY: randomBytes(32).toString('base64'),
        TOOLBELT_RESYNC_INTERVAL_MS: String(10 * 60_000),
        ...env,
      },
    );
    const controller = await startController(config, captureLogger().logger, { reconcilers, stderr: quiet, lifecycle: false });
    running.add(controller);
    tokens.set(controller, adminToken);
    return controller;
  }

  const agentUrl = (c: RunningController) => `${c.url.replace(/^http/, 'ws')}/agent/v1`;

  onPg('reacts to an agent on the follower as fast as to one on the leader (the follower forwards its events)', async () => {
    // The agent's hello enqueues its environment key (the agent id) on the leader's loop.
    const heard = new Map<string, number>();
    const environments = () => scripted('environment', async (_ctx, key) => void (heard.has(key) || heard.set(key, Date.now())), async () => []);
    const leader = await replica('replica-lead', {}, [environments()]);
    await eventually(() => leader.loop!.elector.isLeader, () => 'the first replica never led');
    const follower = await replica('replica-follow', {}, [environments()]);
    expect(follower.loop!.elector.isLeader).toBe(false);

    const [onLeader, onFollower] = await bulkEnrolledEnvironments(t.db, 2);
    const reaction = async (c: RunningController, env: { environmentId: string; token: string }) => {
      const agentId = await agentOf(t.db, env.environmentId);
      const start = Date.now();
      new LightAgent(env.environmentId, env.token, () => [agentUrl(c)]).dial();
      await eventually(() => heard.has(agentId), () => `the leader's loop never heard of agent ${agentId}`, 10_000);
      return heard.get(agentId)! - start;
    };
    const viaLeader = await reaction(leader, onLeader!);
    const viaFollower = await reaction(follower, onFollower!);
    console.info(`agent hello → leader's loop: on the leader ${viaLeader} ms, on the follower ${viaFollower} ms (resync every 10 min)`);
    // Without forwarding the follower's agent would wait for the next resync (10 minutes).
    expect(viaFollower).toBeLessThan(Math.max(3_000, 5 * viaLeader));
    const metrics = await (await fetch(`${leader.url}/metrics`, { headers: { authorization: `Bearer ${tokens.get(leader)}` } })).text();
    expect(metrics).toMatch(/toolbelt_workqueue_adds_total\{kind="environment",source="agent"\} [2-9]/);
  });

  onPg('drains a stopping replica: not ready, agents move over a few at a time, no command lost or run twice (100 agents)', async () => {
    const a = await replica('replica-a', {});
    const b = await replica('replica-b', {});
    const envs = await bulkEnrolledEnvironments(t.db, 100);
    // Every agent dials A first; once A is gone the list has only B (the load balancer's view).
    let targets = [agentUrl(a), agentUrl(b)];
    const light = envs.map((e) => new LightAgent(e.environmentId, e.token, () => targets));
    light.forEach((l) => l.dial());
    await eventually(
      async () => (await sessionsOn(t.db, 'replica-a')) === 100,
      async () => `${await sessionsOn(t.db, 'replica-a')} of 100 agents connected to replica A`,
      30_000,
    );

    // Commands keep coming while A drains: each must reach its agent once, wherever it is.
    const issued: string[] = [];
    const envOf = new Map<string, string>();
    let issuing = true;
    const issuer = (async () => {
      for (let round = 0; issuing; round += 1) {
        for (const e of envs.slice((round * 10) % 100, ((round * 10) % 100) + 10)) {
          const outcome = await enqueueCommand(t.db, { environmentId: e.environmentId, commandType: 'start', toolInstanceId: `tool-${round}`, generation: round });
          if (outcome.kind !== 'ok') throw new Error(`enqueue: ${outcome.kind}`);
          issued.push(outcome.value.command.id);
          envOf.set(outcome.value.command.id, e.environmentId);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const readiness: number[] = [];
    const watching = (async () => {
      for (;;) {
        const res = await fetch(`${a.url}/readyz`).catch(() => undefined);
        if (!res) return;
        readiness.push(res.status);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    targets = [agentUrl(b)];
    const started = Date.now();
    await a.stop(); // what SIGTERM runs
    running.delete(a);
    const drained = Date.now() - started;
    issuing = false;
    await Promise.all([issuer, watching]);

    expect(readiness[0]).toBe(200);
    expect(readiness.slice(readiness.indexOf(503)).every((s) => s === 503), `ready again while draining: ${readiness.join(',')}`).toBe(true);
    await eventually(() => light.every((l) => l.at === agentUrl(b)), () => `agents not on B: ${light.filter((l) => l.at !== agentUrl(b)).length}`, 30_000);
    await eventually(
      async () => (await unfinished(t.db, issued)) === 0,
      async () => `commands not done: ${await unfinished(t.db, issued)} of ${issued.length}`,
      30_000,
    );
    // Each command reached the agent of its own environment (and no other).
    for (const l of light) expect([...l.ran].every((id) => envOf.get(id) === l.environmentId)).toBe(true);
    const ran = new Set(light.flatMap((l) => [...l.ran]));
    expect(issued.filter((id) => !ran.has(id)), 'commands never run').toEqual([]);
    const deliveries = light.reduce((n, l) => n + l.deliveries, 0);
    console.info(`drain: 100 agents moved in ${drained} ms; ${issued.length} commands, ${deliveries - issued.length} sent again and answered from memory`);
    // Spread, not a storm: the reconnects to B did not all come at once.
    expect(drained).toBeGreaterThan(1_000);
  }, 120_000);

  onPg('is not ready while Postgres cannot be reached, and ready again once it can', async () => {
    const proxy = await cuttableProxy(5432);
    try {
      const url = new URL(t.url!);
      url.port = String(proxy.port);
      const c = await replica('replica-cut', {}, [], url.toString());
      expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
      proxy.cut();
      const down = await fetch(`${c.url}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { database: string }).database).toMatch(/^error: /);
      proxy.restore();
      await eventually(async () => (await fetch(`${c.url}/readyz`)).status === 200, () => 'not ready again after Postgres came back', 20_000);
    } finally {
      proxy.restore();
      await Promise.all([...running].map((c) => c.stop()));
      running.clear();
      await proxy.close();
    }
  });
});

async function sessionsOn(db: Db, replicaId: string): Promise<number> {
  const rows = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from agent_sessions where replica_id = ${replicaId} and disconnected_at is null`));
  return rows[0]!.n;
}

async function agentOf(db: Db, environmentId: string): Promise<string> {
  const rows = rowsOf<{ agent_id: string }>(await db.execute(sql`select agent_id from agent_droplets where id = ${environmentId}`));
  return rows[0]!.agent_id;
}

async function unfinished(db: Db, ids: string[]): Promise<number> {
  let open = 0;
  for (const id of ids) {
    const command = await getCommand(db, id);
    if (command?.status !== 'done') open += 1;
  }
  return open;
}

/** A TCP proxy to a local port that can be cut (every connection dropped, new ones hang) and restored. */
async function cuttableProxy(target: number): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (cut) return; // accepted, never answered: an unreachable database
    const upstream = new Socket();
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.connect(target, '127.0.0.1', () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      cut = true;
      for (const socket of open) socket.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise<void>((resolve) => (open.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}
