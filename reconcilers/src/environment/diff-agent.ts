/**
 * The active droplet and its agent: Provisioned, AgentConnected and Ready, and the recovery
 * ladder for a silent agent — Unreachable after its grace → power cycle → replace after a
 * longer grace; a droplet whose agent never said hello counts as a boot failure
 * (diff-boot.ts), and an agent heard from ends the count. Pure; part of the environment diff.
 */
import type { Droplet } from '../provider/types.ts';
import { getCondition, transitionTime } from './conditions.ts';
import { replaceOrGiveUp } from './diff-boot.ts';
import { type DiffInput, type PlanBuilder, describeDroplet, replace } from './plan.ts';

/** Plans an environment whose droplet is active. */
export function planAgent(input: DiffInput, b: PlanBuilder, droplet: Droplet): void {
  const activeMessage = `${describeDroplet(droplet)} is active`;
  b.condition({ type: 'Provisioned', status: 'True', reason: 'DropletActive', message: activeMessage }).observed();
  const wasReady = getCondition(input.row.conditions, 'Ready')?.status === 'True';
  if (!input.timings.agentRequired) {
    b.status({ status: 'active', bootFailures: 0 })
      .condition({ type: 'AgentConnected', status: 'Unknown', reason: 'AgentNotRequired', message: 'the lifecycle does not wait for the droplet agent' })
      .condition({ type: 'Ready', status: 'True', reason: 'DropletActive', message: activeMessage });
    if (!wasReady) b.event('Normal', 'Ready', `${activeMessage}; the environment is ready`);
    return;
  }
  if (input.agent.connected) {
    const message = `the droplet agent is connected to ${describeDroplet(droplet)}`;
    b.status({ status: 'active', bootFailures: 0 })
      .condition({ type: 'AgentConnected', status: 'True', reason: 'Connected', message })
      .condition({ type: 'Ready', status: 'True', reason: 'AgentConnected', message })
      .without('PowerCycled');
    if (!wasReady) b.event('Normal', 'Ready', `${message}; the environment is ready`);
    b.requeue(input.timings.silenceGraceMs);
    return;
  }
  planSilentAgent(input, b, droplet);
}

/**
 * Since when the agent counts as silent, and whether it ever spoke on this droplet: the later
 * of its last sign of life and the droplet turning active (so that a replacement droplet is
 * not judged by its predecessor's agent).
 */
function silence(input: DiffInput, b: PlanBuilder): { since: number; everSeen: boolean } {
  const activeSince = transitionTime(b.plan.status.conditions, 'Provisioned') ?? input.now;
  const lastSeen = input.agent.lastSeenAt;
  if (lastSeen !== undefined && lastSeen > activeSince) return { since: lastSeen, everSeen: true };
  return { since: activeSince, everSeen: false };
}

function planSilentAgent(input: DiffInput, b: PlanBuilder, droplet: Droplet): void {
  const { timings, now } = input;
  const { since, everSeen } = silence(input, b);
  // The agent spoke on this droplet: the boot succeeded, whatever became of it since.
  if (everSeen) b.status({ bootFailures: 0 });
  const grace = everSeen ? timings.silenceGraceMs : timings.helloGraceMs;
  const silentFor = Math.round((now - since) / 1000);
  if (now - since < grace) {
    const reason = everSeen ? 'AgentSilent' : 'WaitingForAgent';
    const message = everSeen
      ? `no word from the droplet agent for ${silentFor} s (Unreachable after ${grace / 1000} s)`
      : `waiting for the droplet agent on ${describeDroplet(droplet)} to say hello`;
    b.status({ status: everSeen ? 'active' : 'provisioning' })
      .condition({ type: 'AgentConnected', status: 'False', reason, message })
      .notReady(reason, message)
      .requeue(since + grace - now);
    return;
  }
  const message = everSeen
    ? `the droplet agent has been silent for ${silentFor} s`
    : `the droplet agent never said hello, ${silentFor} s after ${describeDroplet(droplet)} turned active`;
  b.status({ status: 'unreachable' })
    .condition({ type: 'AgentConnected', status: 'False', reason: 'Unreachable', message })
    .notReady('Unreachable', message);
  recover(input, b, droplet, { since, everSeen, message });
}

/**
 * Power cycle once per silence; replace when the cycle did not help within replaceAfter (a
 * droplet whose agent never said hello: a boot failure, replaced only so many times).
 */
function recover(input: DiffInput, b: PlanBuilder, droplet: Droplet, silent: { since: number; everSeen: boolean; message: string }): void {
  const cycledAt = transitionTime(input.row.conditions, 'PowerCycled');
  const cycled = getCondition(input.row.conditions, 'PowerCycled')?.status === 'True' && cycledAt !== undefined && cycledAt >= silent.since;
  if (!cycled) {
    if (droplet.locked || !input.observed?.authoritative) {
      b.waitForSweep();
      return;
    }
    const message = `${silent.message}; power-cycling ${describeDroplet(droplet)}`;
    b.act({ type: 'powerCycle', droplet })
      .without('PowerCycled')
      .condition({ type: 'PowerCycled', status: 'True', reason: 'AgentUnreachable', message })
      .event('Warning', 'PowerCycled', message)
      .requeue(input.timings.replaceAfterMs);
    return;
  }
  const left = cycledAt + input.timings.replaceAfterMs - input.now;
  if (left > 0) {
    b.requeue(left);
    return;
  }
  const why = `${silent.message}, and a power cycle ${Math.round((input.now - cycledAt) / 1000)} s ago did not bring it back`;
  if (silent.everSeen) replace(input, b, droplet, why);
  else replaceOrGiveUp(input, b, droplet, why);
}
