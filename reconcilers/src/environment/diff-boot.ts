/**
 * Boot failures are contained: an environment whose droplets never bring up an agent (no
 * hello at all on the droplet) is replaced at most `bootRetries` times, each replacement
 * created `bootRetryDelayMs` × 2^(n−1) after the decision to replace, and then stops —
 * status `error`, condition BootFailed, a Warning event, its last droplet deleted — instead
 * of billing one droplet after another forever. Pure; part of the environment diff.
 *
 * The count lives in the row (`boot_failures`, status). It goes back to 0 when an agent says
 * hello (diff-agent.ts), when the spec changes (a generation the row has not observed), on a
 * teardown (disable/enable), and on `toolbelt env retry` (the API writes 0).
 */
import type { Droplet } from '../provider/types.ts';
import { getCondition, transitionTime } from './conditions.ts';
import { candidateDroplets } from './pick.ts';
import { type DiffInput, type PlanBuilder, replace } from './plan.ts';

/** Boot failures that still count: none once the spec moved past the generation they were counted at. */
export function failuresSoFar(input: DiffInput): number {
  return input.row.observedGeneration === input.generation ? input.row.bootFailures : 0;
}

/** The wait before the droplet that follows the `failures`-th boot failure. */
export function bootRetryDelayMs(timings: DiffInput['timings'], failures: number): number {
  return timings.bootRetryDelayMs * 2 ** Math.max(0, failures - 1);
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Whether the environment stays stopped in BootFailed (and plans that: its last droplet
 * deleted, nothing created). Clears the count when the spec moved; starts over when the
 * count is 0 again (a spec change, or `toolbelt env retry`) and the last droplet is gone.
 */
export function heldByBootFailure(input: DiffInput, b: PlanBuilder): boolean {
  const specMoved = input.row.observedGeneration !== input.generation;
  if (specMoved && input.row.bootFailures > 0) b.status({ bootFailures: 0 });
  if (getCondition(input.row.conditions, 'BootFailed')?.status !== 'True') return false;
  const startOver = failuresSoFar(input) === 0;
  if (!startOver || input.row.dropletId !== null) {
    keepStopped(input, b, startOver);
    return true;
  }
  const why = specMoved ? `the spec changed (generation ${input.generation})` : 'an operator asked to retry (toolbelt env retry)';
  b.without('BootFailed').event('Normal', 'BootRetry', `starting over after BootFailed: ${why}`);
  return false;
}

/** Deletes whatever droplet of the environment is left, until a sweep confirms none is. */
function keepStopped(input: DiffInput, b: PlanBuilder, startOver: boolean): void {
  const { row } = input;
  const droplets = candidateDroplets(input);
  if (!input.observed?.authoritative) {
    if (row.dropletId !== null || droplets.length > 0) b.waitForSweep();
    return;
  }
  if (droplets.length > 0) {
    for (const droplet of droplets) b.act({ type: 'deleteDroplet', droplet, why: 'boot-failed' });
    b.waitForSweep();
    return;
  }
  if (row.dropletId === null) return;
  b.status({ dropletId: null, ipAddress: null, privateIpAddress: null }).event(
    'Normal',
    'DropletDeleted',
    `DigitalOcean confirms droplet ${row.dropletId} is gone (BootFailed)`,
  );
  // A retry asked for while the droplet was still going: start over on the next reconcile.
  if (startOver) b.requeue(0);
}

/**
 * A droplet whose agent never said hello, past its graces and a power cycle: replace it,
 * counting one more boot failure — or, past `bootRetries`, stop in BootFailed.
 */
export function replaceOrGiveUp(input: DiffInput, b: PlanBuilder, droplet: Droplet, why: string): void {
  const failures = failuresSoFar(input) + 1;
  const { bootRetries } = input.timings;
  if (failures > bootRetries) return giveUp(input, b, droplet, { failures, why });
  const delay = bootRetryDelayMs(input.timings, failures);
  const count = `boot failure ${failures}: droplet ${failures} of at most ${bootRetries + 1} tried before BootFailed; the next is created ${Math.round(delay / 1000)} s from now`;
  replace(input, b, droplet, `${why} (${count})`);
  b.status({ bootFailures: failures });
}

function giveUp(input: DiffInput, b: PlanBuilder, droplet: Droplet, failed: { failures: number; why: string }): void {
  const { failures, why } = failed;
  const heard = input.agent.lastSeenAt === undefined
    ? 'the agent was never heard from'
    : `the agent was last heard from at ${new Date(input.agent.lastSeenAt).toISOString()}, on an earlier droplet`;
  const message =
    `${plural(failures, 'droplet')} tried, none brought up its agent; last droplet ${droplet.id}, last seen: ${why}; ${heard}. ` +
    `Deleting droplet ${droplet.id}; no droplet is created until the spec changes or an operator runs toolbelt env retry`;
  b.act({ type: 'deleteDroplet', droplet, why: 'boot-failed' })
    .act({ type: 'revokeCredentials' })
    .status({ status: 'error', dropletId: droplet.id, bootFailures: failures })
    .condition({ type: 'BootFailed', status: 'True', reason: 'AgentNeverConnected', message })
    .condition({ type: 'Provisioned', status: 'False', reason: 'BootFailed', message: `deleting droplet ${droplet.id}: its agent never said hello` })
    .notReady('BootFailed', message)
    .without('PowerCycled')
    .observed()
    .event('Warning', 'BootFailed', message)
    .waitForSweep();
}

/**
 * Whether the next droplet after a boot failure must wait yet (and plans the wait). The wait
 * runs from the decision to replace: the Provisioned condition's transition time.
 */
export function waitingToRetryBoot(input: DiffInput, b: PlanBuilder): boolean {
  const failures = failuresSoFar(input);
  if (failures === 0) return false;
  const reason = getCondition(input.row.conditions, 'Provisioned')?.reason;
  if (reason !== 'Replacing' && reason !== 'BootRetryWait') return false;
  const since = transitionTime(input.row.conditions, 'Provisioned') ?? input.now;
  const at = since + bootRetryDelayMs(input.timings, failures);
  if (at <= input.now) return false;
  const message =
    `${plural(failures, 'droplet')} in a row never brought up its agent; the next is created at ${new Date(at).toISOString()} ` +
    `(at most ${input.timings.bootRetries + 1} are tried before BootFailed)`;
  b.status({ status: 'pending' })
    .condition({ type: 'Provisioned', status: 'False', reason: 'BootRetryWait', message })
    .notReady('BootRetryWait', message)
    .observed()
    .requeue(at - input.now);
  return true;
}
