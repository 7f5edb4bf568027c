/**
 * Two controller processes on one Postgres: exactly one leads and reconciles; SIGKILL the
 * leader in the middle of creating droplets → the other leads within the lease time and
 * finishes the work; no droplet is ever created twice.
 *
 * Postgres only: PGlite is one process's database.
 */
import { listEnvironments, listEvents } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { startSimulator } from '@toolbelt/simulator';
import { expect } from 'vitest';
import { type ControllerProcess, startControllerProcess } from '../support/controller-process.ts';
import { seedAgents } from './harness.ts';
import { onPostgres } from '../support/databases.ts';
import { eventually } from '../support/eventually.ts';

const LEASE_TTL_MS = 3_000;
const LEASE_RENEW_MS = 900;

/** When (ms since the epoch) the process logged that it became the leader, if it did. */
function ledAt(c: ControllerProcess): number | undefined {
  const line = c.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('became the leader'));
  return line ? (line.time as number) : undefined;
}

/** Reconcile outcome lines the process logged (debug level). */
const reconciles = (c: ControllerProcess) => c.lines.filter((l) => l.msg === 'reconciled' || l.msg === 'reconciled; requeued').length;

describeEachDatabase('lifecycle failover (two controller processes)', (t) => {
  const onPg = onPostgres(t, 'two controller processes share the test database; a PGlite data dir belongs to one process');

  onPg('one leader reconciles; SIGKILL it mid-creation → the other leads within the lease time and finishes, no droplet twice', async () => {
    const sim = await startSimulator({ bootDelayMs: { minMs: 1500, maxMs: 3000 } });
    const names = new Map<string, number>();
    const watch = setInterval(() => {
      for (const d of sim.state.listDroplets()) names.set(`${d.name}#${d.id}`, d.id);
    }, 10);
    try {
      const seeded = await seedAgents(t.db, 20, 'failover', true);
      const env = {
        DATABASE_URL: t.url,
        DIGITALOCEAN_TOKEN: sim.token,
        DIGITALOCEAN_API_URL: sim.url,
        TOOLBELT_AGENT_URL: 'ws://127.0.0.1:9/agent/v1',
        TOOLBELT_AGENT_REQUIRED: 'false', // these droplets run no agent: Ready is the droplet's
        TOOLBELT_LEASE_TTL_MS: String(LEASE_TTL_MS),
        TOOLBELT_LEASE_RENEW_MS: String(LEASE_RENEW_MS),
        TOOLBELT_SWEEP_FAST_MS: '250',
        TOOLBELT_SWEEP_STEADY_MS: '2000',
        LOG_LEVEL: 'debug',
      };
      const a = startControllerProcess(['server', '--port', '0', '--replica-id', 'a'], env);
      const b = startControllerProcess(['server', '--port', '0', '--replica-id', 'b'], env);
      await Promise.all([a.ready, b.ready]);
      await eventually(() => ledAt(a) !== undefined || ledAt(b) !== undefined, () => 'nobody leads');
      const [leader, follower] = ledAt(a) !== undefined ? [a, b] : [b, a];
      // Mid-work: some droplets exist, not all are active yet.
      await eventually(() => sim.state.listDroplets().length > 0, () => 'no droplet created');
      expect(ledAt(follower)).toBeUndefined();
      expect(reconciles(follower)).toBe(0);
      expect(reconciles(leader)).toBeGreaterThan(0);
      const killedAt = Date.now();
      leader.child.kill('SIGKILL');
      await leader.exited;

      await eventually(() => ledAt(follower) !== undefined, () => 'the follower never led', 30_000);
      const failoverMs = ledAt(follower)! - killedAt;
      console.info(`failover: the follower led ${failoverMs} ms after the leader was killed (lease ${LEASE_TTL_MS} ms)`);
      // The lease expires at most TTL after the last renewal; the follower tries every ~renew interval.
      expect(failoverMs).toBeLessThanOrEqual(LEASE_TTL_MS + LEASE_RENEW_MS * 1.1 + 2_000);
      await eventually(
        async () => (await listEnvironments(t.db, { limit: 100 })).every((e) => e.status === 'active'),
        async () => JSON.stringify((await listEnvironments(t.db, { limit: 100 })).map((e) => e.status)),
        60_000,
      );
      expect(await follower.stop('SIGTERM')).toBe(0);

      const live = sim.state.listDroplets();
      expect(live).toHaveLength(20);
      expect(new Set(live.map((d) => d.name))).toEqual(new Set(seeded.map((s) => `tb-${s.envId}`)));
      // Every droplet ever seen is one of the live ones: none was created twice and deleted.
      expect([...names.values()].sort()).toEqual(live.map((d) => d.id).sort());
      const reasons = (await listEvents(t.db, { objectKind: 'environment', limit: 1000 })).map((e) => e.reason);
      expect(reasons).not.toContain('DuplicateDeleted');
    } finally {
      clearInterval(watch);
      await sim.close();
    }
  }, 120_000);
});
