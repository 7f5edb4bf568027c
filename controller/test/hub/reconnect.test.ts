/**
 * 1,000 agents (light clients in another process) connected at once; the controller
 * restarts; every agent comes back — spread out by jittered backoff, not as one storm — and
 * the hub checks credentials a bounded number at a time, refusing nobody.
 */
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { expect, it } from 'vitest';
import { startTestHub } from '../support/hub.ts';
import { bulkEnrolledEnvironments } from '../support/rows.ts';
import { LightAgentsProcess } from '../support/light-agents-process.ts';

const AGENTS = 1000;

/** The largest share of `times` (ms) that falls into any window of `windowMs`. */
function busiestShare(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let start = 0, end = 0; start < sorted.length; start += 1) {
    while (end < sorted.length && sorted[end]! - sorted[start]! < windowMs) end += 1;
    best = Math.max(best, end - start);
  }
  return best / sorted.length;
}

describeEachDatabase('1,000 agents and a controller restart', (t) => {
  it(
    'all reconnect after a restart, spread by jitter, with bounded credential checks',
    async () => {
      const agents = await bulkEnrolledEnvironments(t.db, AGENTS);
      const first = await startTestHub(t.database, { maxConcurrentAuth: 16 });
      const light = await LightAgentsProcess.start({
        url: first.url,
        tokens: agents.map((a) => a.token),
        heartbeatMs: 15_000,
        // The droplet agent's defaults, except that these short sessions count as stable.
        reconnect: { initialMs: 1000, maxMs: 60_000, stableAfterMs: 0 },
        rampMs: 1000,
      });
      await expect.poll(() => first.hub.stats().connections, { timeout: 60_000, interval: 200 }).toBe(AGENTS);
      await expect.poll(async () => (await light.report()).everWelcomed, { timeout: 10_000 }).toBe(AGENTS);

      await light.mark();
      await first.stop();
      const second = await startTestHub(t.database, { port: first.port, maxConcurrentAuth: 16 });
      await expect.poll(() => second.hub.stats().connections, { timeout: 60_000, interval: 200 }).toBe(AGENTS);
      const report = await light.report();
      // (Agents that redialled while the old hub drained got 503 and backed off; none gave up.)
      expect(report).toMatchObject({ agents: AGENTS, open: AGENTS, welcomedSinceMark: AGENTS, stopped: 0 });
      const stats = second.hub.stats();
      expect(stats.accepted).toBe(AGENTS);
      // A redial that lands while the new hub is still starting gets 503 and backs off; on a
      // loaded machine a few do. A storm would be most of the fleet.
      expect(stats.refused).toBeLessThanOrEqual(AGENTS / 20);
      expect(stats.peakConcurrentAuth).toBeLessThanOrEqual(16);

      // No storm: with full jitter the planned redials spread over the backoff window (0.5–1 s);
      // in lockstep, one 100 ms window would hold all of them.
      const dials = report.dialsSinceMark;
      expect(dials.length).toBeGreaterThanOrEqual(AGENTS);
      expect(busiestShare(dials, 100)).toBeLessThan(0.4);

      await light.stop();
      await second.stop();
    },
    180_000,
  );
});
