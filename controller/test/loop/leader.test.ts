import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  agents,
  createAgent,
  createManualClock,
  type Database,
  FencedError,
  getLease,
  listAgents,
  type ManualClock,
  tryAcquireLease,
} from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { and, eq, sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Component } from '../../src/component.ts';
import { LeaderElector, type LeaderElectorOptions, type LeadershipState } from '../../src/loop/leader.ts';
import { LoopRunner } from '../../src/loop/runner.ts';
import { onPostgres, openPool } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';
import { trackChild } from '../support/leaks.ts';
import { captureLogger, deferred, scripted } from '../support/loop.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/elector-process.ts', import.meta.url));

/** A leader-only component that records what was done to it. */
class Probe implements Component {
  readonly name = 'probe';
  readonly needsLeadership = true;
  readonly calls: string[] = [];
  async start() {
    this.calls.push('start');
  }
  async stop() {
    this.calls.push('stop');
  }
}

let clock: ManualClock;
let electors: LeaderElector[];
let extraDatabases: Database[];

beforeEach(() => {
  clock = createManualClock();
  electors = [];
  extraDatabases = [];
});
afterEach(async () => {
  for (const elector of electors) await elector.stop();
  for (const database of extraDatabases) await database.close().catch(() => {});
});

describeEachDatabase('leader election', (t) => {
  function makeElector(options: Partial<LeaderElectorOptions> = {}): LeaderElector {
    const elector = new LeaderElector({
      db: t.db,
      logger: captureLogger().logger,
      components: [],
      clock,
      ttlMs: 10_000,
      renewEveryMs: 3_000,
      registry: new Registry(),
      ...options,
    });
    electors.push(elector);
    return elector;
  }

  /** Makes the lease's expiry pass in database time, as if its holder had gone silent. */
  const expireLease = (name = 'controller') =>
    t.db.execute(sql`update leases set expires_at = now() - interval '1 millisecond' where name = ${name}`);

  it('a lone elector leads, runs its components, fences writes by its epoch, and on stop hands the lease back', async () => {
    const probe = new Probe();
    const states: LeadershipState[] = [];
    const registry = new Registry();
    const elector = makeElector({ components: [probe], onChange: (s) => states.push(s), registry, lease: 'solo' });
    await elector.start(new AbortController().signal);
    expect(elector.isLeader).toBe(true);
    expect(probe.calls).toEqual(['start']);
    expect(states).toEqual([{ leader: true, epoch: elector.epoch, identity: elector.identity }]);
    expect(await registry.metrics()).toContain('toolbelt_leader{lease="solo"} 1');

    const written = await elector.fence().write((tx) => createAgent(tx, { name: 'fenced-ok' }));
    expect(written.kind).toBe('ok');
    await elector.fence().check();
    const renamed = await t.db
      .update(agents)
      .set({ description: 'by the leader' })
      .where(and(eq(agents.name, 'fenced-ok'), elector.fence().condition))
      .returning({ id: agents.id });
    expect(renamed).toHaveLength(1);

    await elector.stop();
    expect(probe.calls).toEqual(['start', 'stop']);
    expect(elector.isLeader).toBe(false);
    await expect(elector.fence().write(async () => 'x')).rejects.toBeInstanceOf(FencedError);
    // Released: another replica takes it at once, in a new epoch.
    const next = await tryAcquireLease(t.db, { name: 'solo', holder: 'other', ttlMs: 10_000 });
    expect(next).toMatchObject({ kind: 'acquired', lease: { epoch: states[0]!.epoch! + 1 } });
  });

  it('renews on its clock, and steps down at once when its renewal finds the lease gone', async () => {
    const probe = new Probe();
    const lost = deferred();
    const elector = makeElector({ components: [probe], onChange: (s) => !s.leader && lost.resolve(), lease: 'renew' });
    await elector.start(new AbortController().signal);
    const epoch = elector.epoch!;
    const before = (await getLease(t.db, 'renew'))!.renewed_at;
    await clock.advance(3_000);
    await eventually(async () => (await getLease(t.db, 'renew'))!.renewed_at > before);
    expect(elector.isLeader).toBe(true);

    await expireLease('renew');
    const taker = await tryAcquireLease(t.db, { name: 'renew', holder: 'usurper', ttlMs: 60_000 });
    expect(taker).toMatchObject({ kind: 'acquired', lease: { epoch: epoch + 1 } });
    await clock.advance(3_000);
    await lost.promise;
    expect(elector.isLeader).toBe(false);
    expect(probe.calls).toEqual(['start', 'stop']);
  });

  it("refuses a stalled, deposed leader's late writes, and its reconcile counts as fenced", async () => {
    const log = captureLogger();
    const elector = makeElector({ lease: 'stall' });
    await elector.start(new AbortController().signal);
    const runner = new LoopRunner({
      db: t.db,
      logger: log.logger,
      clock,
      registry: new Registry(),
      fence: () => elector.fence(),
      reconcilers: [
        scripted('agent', async (ctx, key) => {
          await ctx.fence.write((tx) => createAgent(tx, { name: key }));
        }),
      ],
    });
    expect((await runner.reconcileOnce('agent', 'while-leading')).outcome).toBe('success');

    // The leader stalls (its clock never moves, so it never renews); its lease runs out and
    // another replica takes over. It still believes it leads.
    await expireLease('stall');
    expect(await tryAcquireLease(t.db, { name: 'stall', holder: 'new-leader', ttlMs: 60_000 })).toMatchObject({
      kind: 'acquired',
    });
    expect(elector.isLeader).toBe(true);
    const late = await runner.reconcileOnce('agent', 'after-deposed');
    expect(late).toMatchObject({ outcome: 'fenced', error: { code: 'LEASE_FENCED' } });
    expect(late.outcome === 'fenced' && late.error.message).toMatch(/held by new-leader/);
    const names = (await listAgents(t.db, { limit: 100 })).map((a) => a.name);
    expect(names).toContain('while-leading');
    expect(names).not.toContain('after-deposed');

    // The one-statement form refuses too: nothing written, and check() says why.
    const fence = elector.fence();
    const written = await t.db
      .update(agents)
      .set({ description: 'late' })
      .where(and(eq(agents.name, 'while-leading'), fence.condition))
      .returning({ id: agents.id });
    expect(written).toEqual([]);
    await expect(fence.check()).rejects.toBeInstanceOf(FencedError);
    await runner.stop();
  });

  it('refuses lease timings that could not work', () => {
    expect(() => makeElector({ ttlMs: 1_000, renewEveryMs: 900 })).toThrow(/ttlMs ≥ 2 × renewEveryMs/);
  });

  const onPg = onPostgres(t, 'two database sessions or a child process on the test database');

  onPg('two replicas on one database: exactly one leads', async () => {
    const second = await openPool({ url: t.url!, maxConnections: 2 });
    extraDatabases.push(second);
    const a = makeElector({ lease: 'pair', identity: 'replica-a' });
    const b = makeElector({ lease: 'pair', identity: 'replica-b', db: second.db });
    await Promise.all([a.start(new AbortController().signal), b.start(new AbortController().signal)]);
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const leader = a.isLeader ? a : b;
    expect((await getLease(t.db, 'pair'))?.holder).toBe(leader.identity);
    // Followers keep trying without taking it while it lives.
    await clock.advance(3_000);
    await clock.advance(3_000);
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
  });

  onPg('steps down before its lease can expire when the database stops answering', async () => {
    const own = await openPool({ url: t.url!, maxConnections: 1 });
    extraDatabases.push(own);
    const probe = new Probe();
    const log = captureLogger();
    const elector = makeElector({ lease: 'cut', db: own.db, components: [probe], logger: log.logger });
    await elector.start(new AbortController().signal);
    expect(elector.isLeader).toBe(true);
    await own.close(); // every renewal now fails
    const failures = () => log.lines.filter((l) => String(l.msg).startsWith('renewing the lease failed')).length;
    await clock.advance(3_000);
    await eventually(async () => failures() === 1);
    expect(elector.isLeader).toBe(true);
    // It retries every second until 7 s after its last renewal, then gives up.
    let advanced = 3_000;
    while (elector.isLeader) {
      const before = failures();
      await clock.advance(1_000);
      advanced += 1_000;
      await eventually(async () => !elector.isLeader || failures() > before);
    }
    expect(advanced).toBe(7_000);
    expect(failures()).toBe(4);
    expect(probe.calls).toEqual(['start', 'stop']);
    const reason = log.lines.find((l) => String(l.msg).startsWith('stopped leading'))?.reason;
    expect(reason).toMatch(/no renewal succeeded within 7000 ms/);
    // It gave up 7 s after its last renewal: 3 s before the lease (10 s) could expire.
    const lease = await getLease(t.db, 'cut');
    expect(lease!.expires_at.getTime() - lease!.renewed_at.getTime()).toBe(10_000);
  });

  onPg('takes over after the leader process is killed (SIGKILL), once its lease expired, in a new epoch', async () => {
    const child = trackChild(spawn(process.execPath, ['--import', 'tsx', FIXTURE, t.url!, 'doomed', '1500', '500'], { stdio: ['ignore', 'pipe', 'inherit'] }), 'an elector process');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const childState = await firstLine(child, (line) => line.leader === true);

    const states: LeadershipState[] = [];
    const tookOver = deferred();
    const survivor = new LeaderElector({
      db: t.db,
      logger: captureLogger().logger,
      components: [],
      identity: 'survivor',
      ttlMs: 1_500,
      renewEveryMs: 500,
      retryEveryMs: 100,
      registry: new Registry(),
      onChange: (state) => {
        states.push(state);
        if (state.leader) tookOver.resolve();
      },
    });
    electors.push(survivor);
    await survivor.start(new AbortController().signal);
    expect(survivor.isLeader).toBe(false);

    child.kill('SIGKILL');
    await exited;
    const lastRenewed = (await getLease(t.db, 'controller'))!;
    expect(lastRenewed.holder).toBe('doomed');
    await tookOver.promise;
    const lease = (await getLease(t.db, 'controller'))!;
    expect(lease.holder).toBe('survivor');
    expect(lease.epoch).toBe((childState.epoch as number) + 1);
    expect(survivor.epoch).toBe(lease.epoch);
    expect(lease.acquired_at.getTime()).toBeGreaterThanOrEqual(lastRenewed.expires_at.getTime());
  });
});

/** The first JSON line on the child's stdout that passes `test`. */
function firstLine(child: ChildProcess, test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (test(parsed)) resolve(parsed);
      }
    });
    child.once('exit', (code) => reject(new Error(`elector process exited (${code}) before leading`)));
  });
}
