/**
 * The fleet as last swept: one `listFleet(fleetTag)` (200 a page) shared by every
 * environment reconcile, instead of one GET per droplet (DESIGN.md, "The loop", 4).
 *
 * The cache is filled by the controller's fleet-sweep source and read by reconcilers. It also
 * remembers what this process changed, so that a reconcile never trusts a sweep older than
 * its own last action on a droplet:
 * - `noteMutation(envId)` after every create, delete or power action of an environment;
 * - `observe(envId).authoritative` is true only for a sweep that *started* at least
 *   `settleMs` after that environment's last mutation ended. Only an authoritative sweep may
 *   say "this droplet is absent" — the rule that keeps a lost create answer from becoming a
 *   second droplet.
 *
 * A sweep taken by a new leader is authoritative for changes made by an earlier leader: the
 * earlier one is dead (or fenced off) before the new one starts sweeping, and `reset()` on
 * every change of leadership drops sweeps of an earlier term.
 */
import type { Clock } from '@toolbelt/schema';
import { indexFleet } from './provider/identity.ts';
import type { Droplet } from './provider/types.ts';

/** One complete sweep of the fleet. */
export interface FleetSnapshot {
  /** Clock ms when the first page was asked for. */
  readonly startedAt: number;
  /** Clock ms when the last page came back. */
  readonly finishedAt: number;
  readonly droplets: readonly Droplet[];
  /** Droplets by environment id (from the name `tb-<envId>`), oldest first. */
  readonly byEnv: ReadonlyMap<string, readonly Droplet[]>;
  /** Droplets with the fleet tag but no toolbelt identity (orphan candidates). */
  readonly unidentified: readonly Droplet[];
}

/** A reconcile key to enqueue: which reconciler, which key. */
export interface WakeTarget {
  readonly kind: string;
  readonly key: string;
}

/** What the latest sweep says about one environment. */
export interface EnvObservation {
  /** Droplets named `tb-<envId>`, oldest first (more than one is a duplicate to resolve). */
  readonly droplets: readonly Droplet[];
  /** Whether the sweep started after this process's last change to the environment settled. */
  readonly authoritative: boolean;
  readonly sweptAt: number;
}

/** What a published sweep changed, for the source to enqueue. */
export interface PublishResult {
  /** Reconcile keys of bound environments whose droplets changed. */
  readonly changed: WakeTarget[];
  /** Environment ids whose droplets changed but that no reconcile has bound yet. */
  readonly unbound: string[];
  /** Keys that asked to be woken by this sweep. */
  readonly woken: WakeTarget[];
}

export interface FleetCacheOptions {
  clock: Clock;
  /** Margin after a mutation before a sweep may speak for it (default 1 s). */
  settleMs?: number;
}

/** Default margin after a mutation before a sweep is trusted about it. */
export const DEFAULT_SETTLE_MS = 1_000;

interface Mutation {
  /** Sweeps starting before this are not authoritative about the environment. */
  readonly trustAfter: number;
}

const EMPTY: readonly Droplet[] = [];

/** A fingerprint of what the reconciler reacts to in an environment's droplets. */
function fingerprint(droplets: readonly Droplet[] | undefined): string {
  if (!droplets || droplets.length === 0) return '';
  return droplets.map((d) => `${d.id}:${d.status}:${d.locked ? 1 : 0}:${d.publicIpv4 ?? ''}:${d.size}:${d.region}`).join(',');
}

/** Builds a snapshot from one sweep's droplets. Pure. */
export function fleetSnapshot(droplets: readonly Droplet[], startedAt: number, finishedAt: number): FleetSnapshot {
  const { byEnv, unidentified } = indexFleet(droplets);
  return { startedAt, finishedAt, droplets, byEnv, unidentified };
}

/** The latest sweep and what this process is waiting to see in the next one. */
export class FleetCache {
  readonly #clock: Clock;
  readonly #settleMs: number;
  #snapshot: FleetSnapshot | undefined;
  readonly #mutations = new Map<string, Mutation>();
  readonly #bindings = new Map<string, WakeTarget>();
  /** `kind\0key` → the target and when it asked. */
  readonly #waiting = new Map<string, WakeTarget & { at: number }>();
  #requestedAt: number | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(options: FleetCacheOptions) {
    const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
    if (!(settleMs >= 0)) throw new RangeError(`FleetCache: settleMs must be ≥ 0, got ${settleMs}`);
    this.#clock = options.clock;
    this.#settleMs = settleMs;
  }

  /** The latest complete sweep, if one was taken in this term of leadership. */
  latest(): FleetSnapshot | undefined {
    return this.#snapshot;
  }

  /** What the latest sweep says about `envId`; undefined before the first sweep. */
  observe(envId: string): EnvObservation | undefined {
    const snapshot = this.#snapshot;
    if (!snapshot) return undefined;
    const mutation = this.#mutations.get(envId);
    return {
      droplets: snapshot.byEnv.get(envId) ?? EMPTY,
      authoritative: mutation === undefined || snapshot.startedAt >= mutation.trustAfter,
      sweptAt: snapshot.startedAt,
    };
  }

  /** Says which reconcile key owns `envId`, so that changes to its droplets enqueue it. */
  bind(envId: string, target: WakeTarget): void {
    this.#bindings.set(envId, target);
  }

  /**
   * Records that this process just changed (or may have changed) the environment's droplets.
   * The fleet counts as in transition (swept at the fast pace) until a sweep covers it; a
   * reconcile that cannot go on without that sweep asks for it (`requestSweep`). `settleMs`
   * overrides the margin (longer after a lost answer, when DigitalOcean may still be working
   * on the request).
   */
  noteMutation(envId: string, options: { settleMs?: number } = {}): void {
    const trustAfter = this.#clock.now() + (options.settleMs ?? this.#settleMs);
    const previous = this.#mutations.get(envId);
    if (!previous || previous.trustAfter < trustAfter) this.#mutations.set(envId, { trustAfter });
  }

  /** Asks for a sweep soon; `wake` is enqueued when a sweep that started after now completes. */
  requestSweep(wake?: WakeTarget): void {
    const now = this.#clock.now();
    if (wake) this.#waiting.set(`${wake.kind}\0${wake.key}`, { ...wake, at: now });
    if (this.#requestedAt === undefined) {
      this.#requestedAt = now;
      for (const listener of this.#listeners) listener();
    }
  }

  /** When a sweep was first asked for since the last one started, if it was. */
  get sweepRequestedAt(): number | undefined {
    return this.#requestedAt;
  }

  /** Calls `listener` whenever a sweep is asked for while none was; returns the unsubscribe. */
  onRequest(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Whether droplets are changing: one is `new` or locked by an action in the latest sweep,
   * or a mutation of this process is not yet covered by a sweep. The source sweeps faster then.
   */
  inTransition(): boolean {
    const snapshot = this.#snapshot;
    if (!snapshot) return true;
    for (const mutation of this.#mutations.values()) if (mutation.trustAfter > snapshot.startedAt) return true;
    return snapshot.droplets.some((d) => d.status === 'new' || d.locked);
  }

  /** Marks the start of a sweep: requests made until now are served by it. Returns the time. */
  beginSweep(): number {
    const startedAt = this.#clock.now();
    if (this.#requestedAt !== undefined && this.#requestedAt <= startedAt) this.#requestedAt = undefined;
    return startedAt;
  }

  /** Takes in a complete sweep that started at `startedAt` and says whom to enqueue. */
  publish(droplets: readonly Droplet[], startedAt: number): PublishResult {
    const previous = this.#snapshot;
    const next = fleetSnapshot(droplets, startedAt, this.#clock.now());
    if (previous && previous.startedAt > startedAt) return { changed: [], unbound: [], woken: [] }; // out of order
    this.#snapshot = next;
    const changed: WakeTarget[] = [];
    const unbound: string[] = [];
    const envIds = new Set([...(previous?.byEnv.keys() ?? []), ...next.byEnv.keys()]);
    for (const envId of envIds) {
      if (previous && fingerprint(previous.byEnv.get(envId)) === fingerprint(next.byEnv.get(envId))) continue;
      const target = this.#bindings.get(envId);
      if (target) changed.push(target);
      else unbound.push(envId);
    }
    this.#pruneMutations(startedAt);
    return { changed, unbound, woken: this.#takeWaiting(startedAt) };
  }

  /** Forgets everything (on gaining or losing leadership). */
  reset(): void {
    this.#snapshot = undefined;
    this.#mutations.clear();
    this.#bindings.clear();
    this.#waiting.clear();
    this.#requestedAt = undefined;
  }

  #takeWaiting(startedAt: number): WakeTarget[] {
    const woken: WakeTarget[] = [];
    for (const [id, entry] of this.#waiting) {
      if (entry.at > startedAt) continue;
      this.#waiting.delete(id);
      woken.push({ kind: entry.kind, key: entry.key });
    }
    return woken;
  }

  /** Mutations every later sweep is authoritative about need no memory. */
  #pruneMutations(startedAt: number): void {
    for (const [envId, mutation] of this.#mutations) if (mutation.trustAfter <= startedAt) this.#mutations.delete(envId);
  }
}
