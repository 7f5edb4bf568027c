/**
 * Leader election through a Postgres lease with a fencing epoch (DESIGN.md, "Only the
 * leader reconciles"). Every replica runs a `LeaderElector`; the one holding the lease runs
 * the leader-only components (the loop runner, the spec-change source), started in order on
 * gaining the lease and stopped in reverse on losing it.
 *
 * Timing (defaults): the lease lasts `ttlMs` = 10 s from the database's now, renewed every
 * `renewEveryMs` = 3 s. A leader that has not managed to renew by `ttlMs − renewEveryMs`
 * after its last successful renewal was sent (7 s) gives up and stops its components, so
 * they are down before the lease can expire and another replica take it. Followers try every
 * `retryEveryMs` = 1 s (± 10 %), so a dead leader is replaced within `ttlMs` + 1.1 s of its
 * last renewal (the budget is 12 s). A leader too stalled to notice (a long pause) is
 * stopped from harm by the fence: its writes carry the old epoch and are refused.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Fence } from '@toolbelt/reconcilers';
import {
  type Clock,
  coerceError,
  type Db,
  type Lease,
  type LeaseToken,
  releaseLease,
  renewLease,
  systemClock,
  ToolbeltError,
  tryAcquireLease,
} from '@toolbelt/schema';
import { Registry } from 'prom-client';
import { type Component, ComponentSet } from '../component.ts';
import type { Logger } from '../logger.ts';
import { leaseFence, refusingFence } from './fence.ts';
import { type LeaderMetrics, leaderMetrics } from './metrics.ts';

export interface LeaderElectorOptions {
  db: Db;
  logger: Logger;
  /** Run only while this replica leads: started in order on gain, stopped in reverse on loss. */
  components: readonly Component[];
  /** The lease's name (default `controller`). */
  lease?: string;
  /** This replica's identity in the lease (default host:pid:random). */
  identity?: string;
  /** Lease duration from the database's now (default 10 s). */
  ttlMs?: number;
  /** How often the leader renews (default 30 % of the TTL: 3 s of 10 s). */
  renewEveryMs?: number;
  /** How often a follower tries to take the lease (default TTL/10: 1 s of 10 s), jittered ±10 %. */
  retryEveryMs?: number;
  clock?: Clock;
  registry?: Registry;
  random?: () => number;
  /** Called on every change of leadership (after components started / stopped). */
  onChange?: (state: LeadershipState) => void;
}

export interface LeadershipState {
  leader: boolean;
  /** The epoch won (while leader) or last held. */
  epoch: number | undefined;
  identity: string;
}

/** The lease timings with their defaults, refused unless a missed renewal can be survived. */
function leaseTiming(options: Pick<LeaderElectorOptions, 'ttlMs' | 'renewEveryMs' | 'retryEveryMs'>) {
  const ttlMs = options.ttlMs ?? 10_000;
  const renewEveryMs = options.renewEveryMs ?? Math.floor(ttlMs * 0.3);
  const retryEveryMs = options.retryEveryMs ?? Math.max(1, Math.floor(ttlMs / 10));
  if (!(ttlMs > 0 && renewEveryMs > 0 && retryEveryMs > 0 && renewEveryMs * 2 <= ttlMs)) {
    throw new ToolbeltError(
      'LEASE_OPTIONS_INVALID',
      `lease timing needs ttlMs ≥ 2 × renewEveryMs > 0, got ttlMs=${ttlMs} renewEveryMs=${renewEveryMs}`,
      { hint: 'renew at least twice per TTL, e.g. TTL 10000 and renew every 3000' },
    );
  }
  return { ttlMs, renewEveryMs, retryEveryMs };
}

type RenewOutcome = { kind: 'ok' } | { kind: 'lost' } | { kind: 'deadline' } | { kind: 'error'; error: Error };

interface Term {
  token: LeaseToken;
  components: ComponentSet;
  /** Local clock time by which a renewal must have succeeded, or leadership is given up. */
  deadline: number;
}

export class LeaderElector implements Component {
  readonly name = 'leader-elector';
  readonly needsLeadership = false;
  readonly identity: string;
  readonly lease: string;
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #components: readonly Component[];
  readonly #ttlMs: number;
  readonly #renewEveryMs: number;
  readonly #retryEveryMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #metrics: LeaderMetrics;
  readonly #onChange: ((state: LeadershipState) => void) | undefined;
  #term: Term | undefined;
  #lastEpoch: number | undefined;
  #campaignFailures = 0;
  #loop: { abort: AbortController; done: Promise<void> } | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#db = options.db;
    this.#components = options.components;
    this.lease = options.lease ?? 'controller';
    this.identity = options.identity ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    ({ ttlMs: this.#ttlMs, renewEveryMs: this.#renewEveryMs, retryEveryMs: this.#retryEveryMs } = leaseTiming(options));
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger.child({ component: 'leader-elector', lease: this.lease, identity: this.identity });
    this.#metrics = leaderMetrics(options.registry ?? new Registry());
    this.#onChange = options.onChange;
  }

  get isLeader(): boolean {
    return this.#term !== undefined;
  }

  /** The epoch of the current term, or undefined when not leading. */
  get epoch(): number | undefined {
    return this.#term?.token.epoch;
  }

  /**
   * A fence bound to the current term: writes through it are refused once the lease has
   * moved on, even if this replica has not noticed yet. Take it when work starts.
   */
  fence(): Fence {
    const term = this.#term;
    if (!term) return refusingFence(`${this.identity} does not hold the "${this.lease}" lease`);
    return leaseFence(this.#db, term.token);
  }

  /** Starts campaigning; resolves after the first attempt (so it leads now, if it could). */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#loop) throw new ToolbeltError('ELECTOR_RUNNING', 'the leader elector is already running');
    const abort = new AbortController();
    signal.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    const first = await this.#step(abort.signal);
    this.#loop = { abort, done: this.#run(first, abort.signal) };
  }

  /** Stops campaigning, stops the leader-only components and releases the lease (a quick handover). */
  async stop(): Promise<void> {
    const loop = this.#loop;
    if (!loop) return;
    this.#loop = undefined;
    loop.abort.abort(new ToolbeltError('ELECTOR_STOPPED', 'the leader elector is stopping'));
    await loop.done;
    const term = this.#term;
    if (!term) return;
    await this.#demote('shutting down');
    await this.#release(term.token);
  }

  async #run(firstWait: number, signal: AbortSignal): Promise<void> {
    let wait = firstWait;
    while (!signal.aborted) {
      try {
        await this.#clock.sleep(wait, signal);
      } catch {
        return;
      }
      wait = await this.#step(signal);
    }
  }

  /** One election step; returns how long to wait before the next. */
  async #step(signal: AbortSignal): Promise<number> {
    return this.#term ? this.#renew(this.#term, signal) : this.#campaign();
  }

  async #campaign(): Promise<number> {
    const sentAt = this.#clock.now();
    try {
      const result = await tryAcquireLease(this.#db, { name: this.lease, holder: this.identity, ttlMs: this.#ttlMs });
      this.#campaignFailures = 0;
      if (result.kind === 'acquired') return await this.#promote(result.lease, sentAt);
      this.#logger.trace({ holder: result.lease.holder, epoch: result.lease.epoch }, 'the lease is held elsewhere');
    } catch (error) {
      // Once, then every 60th attempt: a follower tries every second through an outage.
      if (this.#campaignFailures++ % 60 === 0) {
        this.#logger.warn({ err: error, attempts: this.#campaignFailures }, 'could not try for the lease; trying again');
      }
    }
    return this.#jittered(this.#retryEveryMs);
  }

  async #renew(term: Term, signal: AbortSignal): Promise<number> {
    const sentAt = this.#clock.now();
    const renewal =
      sentAt < term.deadline ? renewLease(this.#db, term.token, this.#ttlMs) : Promise.resolve({ kind: 'late' as const });
    const outcome = await this.#beforeDeadline(term, signal, renewal);
    if (signal.aborted) return 0; // stopping: `stop` demotes and releases
    switch (outcome.kind) {
      case 'ok':
        term.deadline = sentAt + this.#ttlMs - this.#renewEveryMs;
        return this.#renewEveryMs;
      case 'lost':
        await this.#demote('the lease expired or was taken over');
        return 0;
      case 'deadline':
        await this.#demote(`no renewal succeeded within ${this.#ttlMs - this.#renewEveryMs} ms; the lease may expire`);
        // A renewal still on its way may yet extend the lease: hand it back if it does.
        void renewal.then(
          (r) => (r.kind === 'ok' ? this.#release(term.token) : undefined),
          () => {},
        );
        return 0;
      case 'error':
        this.#logger.warn({ err: outcome.error }, 'renewing the lease failed; retrying before it can expire');
        return Math.max(0, Math.min(this.#renewEveryMs / 3, term.deadline - this.#clock.now()));
    }
  }

  /** Waits for a renewal, but no longer than the term's deadline. */
  async #beforeDeadline(
    term: Term,
    signal: AbortSignal,
    renewal: Promise<{ kind: 'ok'; value: Lease } | { kind: 'lost' } | { kind: 'late' }>,
  ): Promise<RenewOutcome> {
    const timer = new AbortController();
    const onAbort = () => timer.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const deadline = this.#clock.sleep(Math.max(0, term.deadline - this.#clock.now()), timer.signal).then(
      (): RenewOutcome => ({ kind: 'deadline' }),
      (): RenewOutcome => ({ kind: 'deadline' }),
    );
    try {
      return await Promise.race([
        renewal.then(
          (r): RenewOutcome => (r.kind === 'late' ? { kind: 'deadline' } : r.kind === 'ok' ? { kind: 'ok' } : { kind: 'lost' }),
          (error: unknown): RenewOutcome => ({ kind: 'error', error: coerceError(error) }),
        ),
        deadline,
      ]);
    } finally {
      timer.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Gives the lease back (so the next holder, even this replica, starts a new epoch). */
  async #release(token: LeaseToken): Promise<void> {
    try {
      if (await releaseLease(this.#db, token)) this.#logger.info({ epoch: token.epoch }, 'released the lease');
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not release the lease; it expires on its own');
    }
  }

  async #promote(lease: Lease, sentAt: number): Promise<number> {
    const token: LeaseToken = { name: lease.name, holder: lease.holder, epoch: lease.epoch };
    const components = new ComponentSet(this.#logger);
    this.#term = { token, components, deadline: sentAt + this.#ttlMs - this.#renewEveryMs };
    this.#lastEpoch = token.epoch;
    this.#metrics.leader.set({ lease: this.lease }, 1);
    this.#metrics.epoch.set({ lease: this.lease }, token.epoch);
    this.#metrics.transitions.inc({ lease: this.lease, change: 'gained' });
    this.#logger.info({ epoch: token.epoch }, `became the leader (epoch ${token.epoch})`);
    try {
      await components.start(this.#components);
    } catch (error) {
      this.#logger.error({ err: error }, 'a leader-only component failed to start; giving the lease up');
      await this.#demote('a component failed to start');
      await this.#release(token);
      return this.#jittered(this.#retryEveryMs);
    }
    this.#notify();
    return this.#renewEveryMs;
  }

  async #demote(reason: string): Promise<void> {
    const term = this.#term;
    if (!term) return;
    // Not leader from this instant: fences handed out from now on refuse.
    this.#term = undefined;
    this.#metrics.leader.set({ lease: this.lease }, 0);
    this.#metrics.transitions.inc({ lease: this.lease, change: 'lost' });
    this.#logger.warn({ epoch: term.token.epoch, reason }, `stopped leading: ${reason}`);
    await term.components.stop();
    this.#notify();
  }

  #notify(): void {
    this.#onChange?.({ leader: this.isLeader, epoch: this.#term?.token.epoch ?? this.#lastEpoch, identity: this.identity });
  }

  #jittered(ms: number): number {
    return ms * (0.9 + 0.2 * this.#random());
  }
}
