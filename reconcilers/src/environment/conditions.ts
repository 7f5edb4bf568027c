/**
 * Kubernetes-style conditions of an environment, and pure helpers to set them. Condition
 * types:
 * - `Provisioned` — a droplet exists and is active (reasons: Creating, Booting, PoweredOff,
 *   DropletActive, QuotaExceeded, InvalidSpec, Deleting, Deleted, Disabled…);
 * - `AgentConnected` — the droplet agent said hello and keeps heartbeating (WaitingForAgent,
 *   AgentSilent, Unreachable, Connected, AgentNotRequired);
 * - `Ready` — the environment is usable (True only when both above hold);
 * - `PowerCycled` — present while a power cycle to revive a silent agent is in effect; its
 *   transition time is when the cycle was sent (the lifecycle's memory across restarts);
 * - `BootFailed` — True (reason AgentNeverConnected) when droplet after droplet never brought
 *   up its agent and the lifecycle stopped trying (diff-boot.ts); absent otherwise.
 */
import type { Condition } from '@toolbelt/schema';

export type ConditionType = 'Provisioned' | 'AgentConnected' | 'Ready' | 'PowerCycled' | 'BootFailed';

/** A condition to set; the transition time is filled in by `setCondition`. */
export interface ConditionInput {
  type: ConditionType;
  status: Condition['status'];
  reason: string;
  message: string;
}

/** The condition of `type`, if present. */
export function getCondition(conditions: readonly Condition[], type: ConditionType): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

/** When the condition of `type` last changed status, in ms (undefined when absent). */
export function transitionTime(conditions: readonly Condition[], type: ConditionType): number | undefined {
  const condition = getCondition(conditions, type);
  if (!condition) return undefined;
  const at = Date.parse(condition.lastTransitionTime);
  return Number.isNaN(at) ? undefined : at;
}

/**
 * Sets a condition, keeping its `lastTransitionTime` when its status did not change (a new
 * reason or message alone is not a transition). Returns a new list in a stable type order.
 */
export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  context: { now: number; generation: number },
): Condition[] {
  const current = getCondition(conditions, input.type);
  const lastTransitionTime =
    current && current.status === input.status ? current.lastTransitionTime : new Date(context.now).toISOString();
  const next: Condition = { ...input, lastTransitionTime, observedGeneration: context.generation };
  return sortConditions([...conditions.filter((c) => c.type !== input.type), next]);
}

/** Removes the condition of `type`. */
export function removeCondition(conditions: readonly Condition[], type: ConditionType): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

const ORDER: readonly string[] = ['Ready', 'Provisioned', 'AgentConnected', 'PowerCycled', 'BootFailed'];

function sortConditions(conditions: Condition[]): Condition[] {
  const rank = (c: Condition) => {
    const i = ORDER.indexOf(c.type);
    return i === -1 ? ORDER.length : i;
  };
  return conditions.sort((a, b) => rank(a) - rank(b) || a.type.localeCompare(b.type));
}

/** Whether two condition lists say the same (order-insensitive). */
export function sameConditions(a: readonly Condition[], b: readonly Condition[]): boolean {
  if (a.length !== b.length) return false;
  const key = (c: Condition) =>
    JSON.stringify([c.type, c.status, c.reason, c.message, c.lastTransitionTime, c.observedGeneration ?? null]);
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((k, i) => k === right[i]);
}
