/**
 * What the environment diff takes (desired and observed, as plain values) and what it
 * returns (a plan: actions, the status to write, events to record, when to look again).
 * The diff is pure (diff.ts); the reconciler loads its input and carries the plan out.
 */
import type { Condition, EnvironmentStatus, EventType } from '@toolbelt/schema';
import type { EnvObservation } from '../fleet.ts';
import type { Droplet } from '../provider/types.ts';
import type { CreateOutcome, DropletPlacement } from './batcher.ts';
import { type ConditionInput, removeCondition, setCondition } from './conditions.ts';
import type { LifecycleTimings } from './options.ts';

/** Why the environment should (not) have a droplet. */
export type Want = { present: true } | { present: false; why: 'disabled' | 'agent-deleted' };

/** The status columns of the row as the diff sees them (times in ms). */
export interface RowState {
  status: EnvironmentStatus;
  dropletId: number | null;
  ipAddress: string | null;
  privateIpAddress: string | null;
  createRequestedAt: number | null;
  conditions: readonly Condition[];
  observedGeneration: number;
  /** Droplets in a row whose agent never said hello (diff-boot.ts). */
  bootFailures: number;
}

/** What the hub knows of the agent on the droplet. */
export interface AgentLiveness {
  /** A socket is open and the agent said hello on it. */
  connected: boolean;
  /** Latest of hello, heartbeat and disconnect (ms), if the agent was ever seen. */
  lastSeenAt: number | undefined;
}

export interface DiffInput {
  now: number;
  envId: string;
  generation: number;
  want: Want;
  placement: DropletPlacement;
  row: RowState;
  /** The latest sweep's view of the environment; undefined before the first sweep. */
  observed: EnvObservation | undefined;
  /** This process's create of the environment, if any. */
  create: CreateOutcome | undefined;
  agent: AgentLiveness;
  timings: LifecycleTimings;
}

/** Why a droplet is deleted (goes into the event). */
export type DeleteWhy = 'duplicate' | 'disabled' | 'agent-deleted' | 'replace' | 'boot-failed';

export type Action =
  /** Record the intent (status `creating`), then hand the environment to the batcher. */
  | { type: 'create' }
  /** Take a queued (unsent) create back. */
  | { type: 'cancelCreate' }
  | { type: 'deleteDroplet'; droplet: Droplet; why: DeleteWhy }
  | { type: 'powerOn'; droplet: Droplet }
  | { type: 'powerCycle'; droplet: Droplet }
  /** Stop the tools gracefully before the droplet goes (the tools work fills this seam). */
  | { type: 'stopTools' }
  | { type: 'revokeCredentials' }
  /** Remove the rows of an agent whose deletion was asked for (its droplet is gone). */
  | { type: 'removeAgent' }
  /** Drop the batcher's settled outcome: the status now says what it said. */
  | { type: 'forgetCreate' };

export interface EventNote {
  type: EventType;
  reason: string;
  message: string;
}

/** The status columns to write (all of them; the reconciler writes only when they differ). */
export interface StatusWrite {
  status: EnvironmentStatus;
  dropletId: number | null;
  ipAddress: string | null;
  privateIpAddress: string | null;
  createRequestedAt: number | null;
  conditions: Condition[];
  observedGeneration: number;
  bootFailures: number;
}

export interface Plan {
  actions: Action[];
  status: StatusWrite;
  events: EventNote[];
  /** Write the status before acting: it records an intent (create, delete). */
  intentFirst: boolean;
  /**
   * Look again after this long, for deadlines only (graces, quota retry). Waiting on
   * DigitalOcean needs none: the batcher wakes the key when its create settles, the sweep
   * when the environment's droplets change or an asked-for sweep completes, and the resync
   * catches anything else.
   */
  requeueAfterMs?: number;
  /** Ask for a fresh sweep and be woken by it. */
  waitForSweep: boolean;
}

/** Builds a plan step by step, starting from the row as it is. */
export class PlanBuilder {
  readonly plan: Plan;
  readonly #input: DiffInput;

  constructor(input: DiffInput) {
    this.#input = input;
    const { row } = input;
    this.plan = {
      actions: [],
      events: [],
      intentFirst: false,
      waitForSweep: false,
      status: {
        status: row.status,
        dropletId: row.dropletId,
        ipAddress: row.ipAddress,
        privateIpAddress: row.privateIpAddress,
        createRequestedAt: row.createRequestedAt,
        conditions: [...row.conditions],
        observedGeneration: row.observedGeneration,
        bootFailures: row.bootFailures,
      },
    };
  }

  act(action: Action): this {
    this.plan.actions.push(action);
    if (action.type === 'create' || action.type === 'deleteDroplet') this.plan.intentFirst = true;
    return this;
  }

  event(type: EventType, reason: string, message: string): this {
    this.plan.events.push({ type, reason, message });
    return this;
  }

  status(patch: Partial<StatusWrite>): this {
    Object.assign(this.plan.status, patch);
    return this;
  }

  condition(input: ConditionInput): this {
    const { now, generation } = this.#input;
    this.plan.status.conditions = setCondition(this.plan.status.conditions, input, { now, generation });
    return this;
  }

  without(type: ConditionInput['type']): this {
    this.plan.status.conditions = removeCondition(this.plan.status.conditions, type);
    return this;
  }

  /** Says the plan acted on the current generation. */
  observed(): this {
    this.plan.status.observedGeneration = this.#input.generation;
    return this;
  }

  /** Look again after `ms` (the earliest of all calls wins). */
  requeue(ms: number): this {
    const current = this.plan.requeueAfterMs;
    this.plan.requeueAfterMs = current === undefined ? Math.max(0, ms) : Math.min(current, Math.max(0, ms));
    return this;
  }

  /** Ask for a sweep and be woken when one that started after now completes. */
  waitForSweep(): this {
    this.plan.waitForSweep = true;
    return this;
  }

  /** Ready is False with this reason and message. */
  notReady(reason: string, message: string): this {
    return this.condition({ type: 'Ready', status: 'False', reason, message });
  }
}

/** `tb-<id>` and what it is, for messages. */
export function describeDroplet(droplet: Droplet): string {
  const ip = droplet.publicIpv4 ? ` at ${droplet.publicIpv4}` : '';
  return `droplet ${droplet.id} (${droplet.name}, ${droplet.region}, ${droplet.size})${ip}`;
}

/** Deletes the droplet to create a new one once DigitalOcean confirms it gone. */
export function replace(input: DiffInput, b: PlanBuilder, droplet: Droplet, why: string): void {
  const message = `${why}; replacing it (tools are reinstalled on the new droplet)`;
  b.act({ type: 'deleteDroplet', droplet, why: 'replace' })
    .status({ status: 'deleting', dropletId: droplet.id })
    .condition({ type: 'Provisioned', status: 'False', reason: 'Replacing', message })
    .notReady('Replacing', message)
    .observed()
    .event('Warning', 'Replacing', message)
    .waitForSweep();
}

