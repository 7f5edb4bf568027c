/**
 * Boot failures are contained (diff-boot.ts), rule by rule on the pure diff: droplets whose
 * agent never says hello are replaced `bootRetries` times with a growing wait, then the
 * environment stops in BootFailed with its last droplet deleted; a hello, a spec change, a
 * retry or a teardown starts the count over.
 */
import { describe, expect, it } from 'vitest';
import type { DiffInput, Plan } from '../src/index.ts';
import { DEFAULT_LIFECYCLE_TIMINGS, diffEnvironment } from '../src/index.ts';
import { MIN, NOW, type Overrides, cond, condition, droplet, input, reasons, types } from './environment-inputs.ts';

const timings = { ...DEFAULT_LIFECYCLE_TIMINGS, agentRequired: true };
const K = timings.bootRetries;

/** The row a plan leaves behind (what the reconciler writes). */
const rowAfter = (plan: Plan): DiffInput['row'] => ({ ...plan.status });

/** One reconcile at `now` of the row as it is. */
function reconcile(row: DiffInput['row'], now: number, over: Overrides = {}): Plan {
  return diffEnvironment(input({ now, timings, row, ...over }));
}

/**
 * Runs one droplet through the ladder: adopted active at `start`, its agent never says hello,
 * power-cycled after the hello grace, judged after the replace grace. Returns the judgement.
 */
function failOneDroplet(row: DiffInput['row'], id: number, start: number): { plan: Plan; at: number } {
  const booted = droplet({ id });
  const adopted = reconcile(row, start, { observed: { droplets: [booted] } });
  expect(adopted.status).toMatchObject({ dropletId: id, status: 'provisioning' });
  const late = start + timings.helloGraceMs + 1000;
  const cycle = reconcile(rowAfter(adopted), late, { observed: { droplets: [booted] } });
  expect(types(cycle)).toEqual(['powerCycle']);
  const at = late + timings.replaceAfterMs;
  return { plan: reconcile(rowAfter(cycle), at, { observed: { droplets: [booted] } }), at };
}

/** Drives an environment from its first create to BootFailed; returns every step worth checking. */
function runToBootFailed() {
  let row: DiffInput['row'] = { ...input().row, observedGeneration: 1 };
  let now = NOW;
  const waits: number[] = [];
  let created = 0;
  for (let attempt = 1; ; attempt += 1) {
    const create = reconcile(row, now);
    expect(types(create)).toEqual(['create']);
    created += 1;
    const { plan, at } = failOneDroplet(rowAfter(create), 100 + attempt, now + MIN);
    if (attempt > K) return { gaveUp: plan, at, created, waits };
    expect(types(plan)).toEqual(['deleteDroplet']);
    expect(reasons(plan)).toEqual(['Replacing']);
    expect(plan.status).toMatchObject({ status: 'deleting', bootFailures: attempt });
    // The old droplet is gone a few seconds later: the next one waits its turn.
    const gone = reconcile(rowAfter(plan), at + 5000);
    expect(types(gone)).toEqual([]);
    expect(reasons(gone)).toEqual(['DropletGone']);
    expect(gone.events[0]!.message).toContain('waits its turn');
    expect(gone.status).toMatchObject({ status: 'pending', dropletId: null, bootFailures: attempt });
    expect(cond(gone, 'Provisioned')).toMatchObject({ status: 'False', reason: 'BootRetryWait' });
    waits.push(gone.requeueAfterMs! + 5000);
    now = at + waits.at(-1)!;
    // Early wake-ups (a resync) keep waiting.
    expect(types(reconcile(rowAfter(gone), now - 1000))).toEqual([]);
    row = rowAfter(gone);
  }
}

describe('environment diff: boot failures', () => {
  it(`replaces droplets whose agent never says hello ${K} times, waiting longer each time, then stops in BootFailed`, () => {
    const { gaveUp, at, created, waits } = runToBootFailed();
    expect(created).toBe(K + 1);
    expect(waits).toEqual([timings.bootRetryDelayMs, 2 * timings.bootRetryDelayMs]);

    // The last droplet is deleted (nothing left billing) and its credentials revoked.
    expect(types(gaveUp)).toEqual(['deleteDroplet', 'revokeCredentials']);
    expect(gaveUp.intentFirst).toBe(true);
    expect(gaveUp.status).toMatchObject({ status: 'error', dropletId: 100 + K + 1, bootFailures: K + 1 });
    expect(reasons(gaveUp)).toEqual(['BootFailed']);
    expect(gaveUp.events[0]!.type).toBe('Warning');
    const failed = cond(gaveUp, 'BootFailed')!;
    expect(failed).toMatchObject({ status: 'True', reason: 'AgentNeverConnected' });
    // How many droplets were tried, the last one, and what was last seen.
    expect(failed.message).toContain(`${K + 1} droplets tried`);
    expect(failed.message).toContain(`droplet ${100 + K + 1}`);
    expect(failed.message).toContain('never said hello');
    expect(failed.message).toContain('the agent was never heard from');
    expect(failed.message).toContain('toolbelt env retry');
    expect(cond(gaveUp, 'Ready')).toMatchObject({ status: 'False', reason: 'BootFailed' });
    expect(cond(gaveUp, 'PowerCycled')).toBeUndefined();

    // While a sweep still lists it, it is deleted again; once gone, the row forgets it.
    const stopped = rowAfter(gaveUp);
    const last = droplet({ id: 100 + K + 1 });
    expect(types(reconcile(stopped, at + 1000, { observed: { droplets: [last], authoritative: false } }))).toEqual([]);
    expect(types(reconcile(stopped, at + 2000, { observed: { droplets: [last] } }))).toEqual(['deleteDroplet']);
    const gone = reconcile(stopped, at + 3000);
    expect(types(gone)).toEqual([]);
    expect(gone.status).toMatchObject({ status: 'error', dropletId: null, bootFailures: K + 1 });
    expect(reasons(gone)).toEqual(['DropletDeleted']);

    // Then nothing, however long it waits: no droplet, no requeue, no event.
    const later = reconcile(rowAfter(gone), at + 24 * 60 * MIN);
    expect(types(later)).toEqual([]);
    expect(reasons(later)).toEqual([]);
    expect(later.requeueAfterMs).toBeUndefined();
    expect(later.status).toEqual(gone.status);
  });

  it('stops at the first such droplet with bootRetries 0', () => {
    const row = { ...input().row, observedGeneration: 1 };
    const create = diffEnvironment(input({ timings: { ...timings, bootRetries: 0 }, row }));
    const booted = droplet();
    const zero = { ...timings, bootRetries: 0 };
    const adopted = diffEnvironment(input({ now: NOW + MIN, timings: zero, row: rowAfter(create), observed: { droplets: [booted] } }));
    const late = NOW + MIN + zero.helloGraceMs + 1000;
    const cycle = diffEnvironment(input({ now: late, timings: zero, row: rowAfter(adopted), observed: { droplets: [booted] } }));
    const judged = diffEnvironment(input({ now: late + zero.replaceAfterMs, timings: zero, row: rowAfter(cycle), observed: { droplets: [booted] } }));
    expect(reasons(judged)).toEqual(['BootFailed']);
    expect(cond(judged, 'BootFailed')!.message).toContain('1 droplet tried');
  });

  it('starts over when the spec changes, in BootFailed or while waiting to retry', () => {
    const { gaveUp, at } = runToBootFailed();
    const stopped = { ...rowAfter(gaveUp), dropletId: null };
    // A new generation (say a bigger size): the count is cleared and a droplet created at once.
    const resized = reconcile(stopped, at + MIN, { generation: 2 });
    expect(types(resized)).toEqual(['create']);
    expect(resized.status).toMatchObject({ status: 'creating', bootFailures: 0, observedGeneration: 2 });
    expect(cond(resized, 'BootFailed')).toBeUndefined();
    expect(reasons(resized)).toEqual(['BootRetry', 'Creating']);
    expect(resized.events[0]!.message).toContain('the spec changed');

    // Waiting after a first failure: a spec change does not wait.
    const first = failOneDroplet(rowAfter(reconcile({ ...input().row, observedGeneration: 1 }, NOW)), 101, NOW + MIN);
    const waiting = rowAfter(reconcile(rowAfter(first.plan), first.at + 5000));
    expect(waiting).toMatchObject({ status: 'pending', bootFailures: 1 });
    expect(types(reconcile(waiting, first.at + 10_000))).toEqual([]);
    const changed = reconcile(waiting, first.at + 10_000, { generation: 2 });
    expect(types(changed)).toEqual(['create']);
    expect(changed.status.bootFailures).toBe(0);
  });

  it('starts over on toolbelt env retry (the count written back to 0), once the last droplet is gone', () => {
    const { gaveUp, at } = runToBootFailed();
    const retried = { ...rowAfter(gaveUp), bootFailures: 0 };
    // The last droplet is still being deleted: finish that first, then look again at once.
    const last = droplet({ id: gaveUp.status.dropletId! });
    expect(types(reconcile(retried, at + 1000, { observed: { droplets: [last] } }))).toEqual(['deleteDroplet']);
    const gone = reconcile(retried, at + 2000);
    expect(gone.status.dropletId).toBeNull();
    expect(gone.requeueAfterMs).toBe(0);
    const again = reconcile(rowAfter(gone), at + 2000);
    expect(types(again)).toEqual(['create']);
    expect(reasons(again)).toEqual(['BootRetry', 'Creating']);
    expect(again.events[0]!.message).toContain('toolbelt env retry');
    expect(cond(again, 'BootFailed')).toBeUndefined();
  });

  it('clears the count when the agent says hello, or was ever heard from on the droplet', () => {
    const booted = droplet({ id: 103 });
    const activeSince = NOW - 2 * MIN;
    const row = {
      ...input().row,
      status: 'provisioning' as const,
      dropletId: 103,
      observedGeneration: 1,
      bootFailures: K,
      conditions: [condition('Provisioned', 'True', 'DropletActive', activeSince)],
    };
    const hello = reconcile(row, NOW, { observed: { droplets: [booted] }, agent: { connected: true, lastSeenAt: NOW - 1000 } });
    expect(hello.status).toMatchObject({ status: 'active', bootFailures: 0 });
    expect(cond(hello, 'Ready')).toMatchObject({ status: 'True' });

    // Said hello, then went silent for good: an ordinary replacement, not a boot failure.
    const spoke = NOW - timings.silenceGraceMs - 1000;
    const silent = reconcile(row, NOW, { observed: { droplets: [booted] }, agent: { connected: false, lastSeenAt: spoke } });
    expect(types(silent)).toEqual(['powerCycle']);
    expect(silent.status.bootFailures).toBe(0);
    const replaced = reconcile(rowAfter(silent), NOW + timings.replaceAfterMs, { observed: { droplets: [booted] }, agent: { connected: false, lastSeenAt: spoke } });
    expect(reasons(replaced)).toEqual(['Replacing']);
    expect(replaced.status.bootFailures).toBe(0);
  });

  it('clears the count and BootFailed on a teardown (disable, then enable starts over)', () => {
    const { gaveUp, at } = runToBootFailed();
    const stopped = { ...rowAfter(gaveUp), dropletId: null, createRequestedAt: null };
    const disabled = reconcile(stopped, at + MIN, { want: { present: false, why: 'disabled' } });
    expect(disabled.status).toMatchObject({ status: 'deleted', bootFailures: 0 });
    expect(cond(disabled, 'BootFailed')).toBeUndefined();
    expect(types(reconcile(rowAfter(disabled), at + 2 * MIN))).toEqual(['create']);
  });
});
