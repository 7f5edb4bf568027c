/**
 * The create batcher: environment reconciles that need a droplet (after recording the intent
 * in the database) hand it here and return; the batcher gathers them for a short window and
 * sends ONE `POST /v2/droplets` with up to 10 `names` per region/size/image, paced by the
 * provider's rate budget. When a batch settles, every environment in it is enqueued again
 * and its reconcile reads the outcome (`outcome(envId)`).
 *
 * Crash safety (see docs/architecture.md, "Droplet lifecycle"):
 * - right before sending, an environment whose name already shows in the latest sweep is
 *   not created but reported `exists` (the reconcile adopts it);
 * - after a lost answer (timeout, reset, 5xx) the outcome is `unknown` and the fleet cache
 *   is told to distrust sweeps until well after the call, so no reconcile re-creates before
 *   a sweep taken after the call says the name is absent;
 * - once stopped (leadership lost, shutdown) nothing queued is ever sent.
 */
import type { Clock } from '@toolbelt/schema';
import { ToolbeltError } from '@toolbelt/schema';
import type { FleetCache, WakeTarget } from '../fleet.ts';
import { isProviderError, ProviderError } from '../provider/errors.ts';
import { dropletNameFor } from '../provider/identity.ts';
import type { BudgetSnapshot } from '../provider/budget.ts';
import type { Droplet, SharedDropletSpec } from '../provider/types.ts';
import { MAX_DROPLETS_PER_CREATE } from '../provider/droplets.ts';

/** Where and on what a droplet runs; environments sharing all three can share a create. */
export interface DropletPlacement {
  region: string;
  size: string;
  image: string;
}

/** One environment waiting for a droplet. */
export interface CreateRequest {
  envId: string;
  /** The reconcile key to enqueue when the create settles. */
  wake: WakeTarget;
  placement: DropletPlacement;
}

/** Why a create failed for good (until the spec or the account changes), or may be retried. */
export type CreateFailureKind = 'quota' | 'invalid' | 'retry';

/** Where an environment's create stands in this process. */
export type CreateOutcome =
  | { phase: 'queued'; since: number }
  | { phase: 'sending'; since: number }
  | { phase: 'created'; droplet: Droplet; at: number; batchSize: number }
  /** Found in the latest sweep right before sending: adopt, do not create. */
  | { phase: 'exists'; droplet: Droplet; at: number }
  /** The answer was lost: it may or may not exist; wait for an authoritative sweep. */
  | { phase: 'unknown'; error: Error; at: number }
  | { phase: 'failed'; kind: CreateFailureKind; error: Error; at: number };

/** What the batcher needs of the provider. */
export interface CreateProvider {
  createDroplets(names: readonly string[], shared: SharedDropletSpec, options?: { signal?: AbortSignal }): Promise<Droplet[]>;
  budget(): BudgetSnapshot;
}

/** Makes the cloud-init user_data for the environments of one batch (one enrollment token). */
export type BatchUserData = (envIds: readonly string[], signal: AbortSignal) => Promise<string | undefined>;

export interface CreateBatcherOptions {
  provider: CreateProvider;
  fleet: FleetCache;
  clock: Clock;
  /** Tags every droplet gets (the fleet tag). Shared by a batch, so no per-row tag here. */
  tags: readonly string[];
  userData: BatchUserData;
  /** Called with each environment's wake target when its create settled. */
  onSettled: (target: WakeTarget) => void;
  /** How long the first request of a batch waits for company (default 150 ms). */
  windowMs?: number;
  /** Longest a partial batch waits for the budget before it is sent anyway (default 5 s). */
  maxWaitMs?: number;
  /** Names per create, 1..10 (default 10). */
  maxBatch?: number;
  /** How long sweeps are distrusted after a lost answer (default 10 s). */
  unknownSettleMs?: number;
  /** Extra attributes every droplet shares (ssh keys, monitoring, VPC…). */
  shared?: Omit<SharedDropletSpec, 'region' | 'size' | 'image' | 'tags' | 'userData'>;
}

/** Counters for the benchmark and metrics. */
export interface BatcherStats {
  batches: number;
  droplets: number;
  adoptedBeforeSend: number;
  unknown: number;
  failed: number;
}

interface Group {
  placement: DropletPlacement;
  requests: CreateRequest[];
  oldest: number;
}

const placementKey = (p: DropletPlacement) => `${p.region}\0${p.size}\0${p.image}`;

/** Sorts a create failure into what the reconcile does about it. Pure. */
export function createFailureKind(error: unknown): CreateFailureKind | 'unknown' {
  if (isProviderError(error)) {
    if (error.outcomeUnknown) return 'unknown';
    if (error.kind === 'quota') return 'quota';
    if (error.kind === 'validation') return 'invalid';
    return 'retry';
  }
  return 'unknown';
}

export class CreateBatcher {
  readonly stats: BatcherStats = { batches: 0, droplets: 0, adoptedBeforeSend: 0, unknown: 0, failed: 0 };
  readonly #o: Required<Omit<CreateBatcherOptions, 'shared'>> & Pick<CreateBatcherOptions, 'shared'>;
  readonly #groups = new Map<string, Group>();
  readonly #outcomes = new Map<string, CreateOutcome>();
  readonly #sending = new Set<Promise<void>>();
  #abort: AbortController | undefined;
  #timer: AbortController | undefined;

  constructor(options: CreateBatcherOptions) {
    this.#o = { windowMs: 150, maxWaitMs: 5_000, maxBatch: MAX_DROPLETS_PER_CREATE, unknownSettleMs: 10_000, ...options };
    const { maxBatch, windowMs, maxWaitMs } = this.#o;
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1 && maxBatch <= MAX_DROPLETS_PER_CREATE)) {
      throw new RangeError(`CreateBatcher: maxBatch must be 1..${MAX_DROPLETS_PER_CREATE}, got ${maxBatch}`);
    }
    if (!(windowMs >= 0 && maxWaitMs >= windowMs)) {
      throw new RangeError(`CreateBatcher: need 0 ≤ windowMs ≤ maxWaitMs, got ${windowMs} and ${maxWaitMs}`);
    }
  }

  /** Accepts requests from now on. */
  start(signal?: AbortSignal): void {
    if (this.#abort) return;
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    this.#abort = abort;
  }

  /** Drops everything queued (never sent) and waits for creates already on the wire. */
  async stop(): Promise<void> {
    this.#abort?.abort(new ToolbeltError('BATCHER_STOPPED', 'the create batcher stopped'));
    this.#abort = undefined;
    this.#timer?.abort();
    this.#groups.clear();
    await Promise.allSettled([...this.#sending]);
    this.#outcomes.clear();
  }

  /** Where `envId`'s create stands in this process, if anywhere. */
  outcome(envId: string): CreateOutcome | undefined {
    return this.#outcomes.get(envId);
  }

  /** Forgets a settled outcome once the reconcile has acted on it. Queued or sending ones stay. */
  forget(envId: string): void {
    const outcome = this.#outcomes.get(envId);
    if (outcome && outcome.phase !== 'queued' && outcome.phase !== 'sending') this.#outcomes.delete(envId);
  }

  /** Takes a queued request back (the environment was disabled); false once it is being sent. */
  cancel(envId: string): boolean {
    if (this.#outcomes.get(envId)?.phase !== 'queued') return false;
    for (const [key, group] of this.#groups) {
      group.requests = group.requests.filter((r) => r.envId !== envId);
      if (group.requests.length === 0) this.#groups.delete(key);
    }
    this.#outcomes.delete(envId);
    return true;
  }

  /**
   * Queues a create for the environment. Returns false (and queues nothing) while one is
   * already queued or on the wire, or when the batcher is not running.
   */
  submit(request: CreateRequest): boolean {
    if (!this.#abort) return false;
    const current = this.#outcomes.get(request.envId);
    if (current?.phase === 'queued' || current?.phase === 'sending') return false;
    const now = this.#o.clock.now();
    const key = placementKey(request.placement);
    let group = this.#groups.get(key);
    if (!group) {
      group = { placement: request.placement, requests: [], oldest: now };
      this.#groups.set(key, group);
    }
    group.requests.push(request);
    this.#outcomes.set(request.envId, { phase: 'queued', since: now });
    if (group.requests.length >= this.#o.maxBatch) this.#seal(key, group);
    this.#arm();
    return true;
  }

  /** Requests waiting, and batches on the wire. */
  get pending(): { queued: number; sending: number } {
    let queued = 0;
    for (const group of this.#groups.values()) queued += group.requests.length;
    return { queued, sending: this.#sending.size };
  }

  /** Sends every group that is full, past its window with budget to spare, or past maxWait. */
  #flushDue(): void {
    const now = this.#o.clock.now();
    const budgetFree = this.#o.provider.budget().allowedNow > 0;
    for (const [key, group] of this.#groups) {
      const age = now - group.oldest;
      if (age >= this.#o.maxWaitMs || (age >= this.#o.windowMs && budgetFree)) this.#seal(key, group);
    }
  }

  /** Sleeps until the next group is due (one timer for all groups). */
  #arm(): void {
    this.#timer?.abort();
    if (this.#groups.size === 0 || !this.#abort) return;
    const timer = new AbortController();
    this.#timer = timer;
    const now = this.#o.clock.now();
    const budget = this.#o.provider.budget();
    let due = Infinity;
    for (const group of this.#groups.values()) {
      const windowEnd = Math.max(group.oldest + this.#o.windowMs, budget.allowedNow > 0 ? 0 : budget.nextSlotAt);
      due = Math.min(due, Math.min(windowEnd, group.oldest + this.#o.maxWaitMs));
    }
    this.#o.clock.sleep(Math.max(0, due - now), timer.signal).then(
      () => {
        if (timer.signal.aborted) return;
        this.#flushDue();
        this.#arm();
      },
      () => undefined,
    );
  }

  #seal(key: string, group: Group): void {
    const batch = group.requests.splice(0, this.#o.maxBatch);
    if (group.requests.length === 0) this.#groups.delete(key);
    else group.oldest = this.#o.clock.now();
    const sending = this.#send(group.placement, batch).finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
  }

  async #send(placement: DropletPlacement, batch: CreateRequest[]): Promise<void> {
    const signal = this.#abort?.signal;
    if (!signal || signal.aborted) return this.#drop(batch);
    const now = this.#o.clock.now();
    const toCreate: CreateRequest[] = [];
    for (const request of batch) {
      const existing = this.#o.fleet.observe(request.envId)?.droplets[0];
      if (existing) {
        this.stats.adoptedBeforeSend += 1;
        this.#settle(request, { phase: 'exists', droplet: existing, at: now });
      } else {
        this.#outcomes.set(request.envId, { phase: 'sending', since: now });
        toCreate.push(request);
      }
    }
    if (toCreate.length === 0) return;
    try {
      const userData = await this.#o.userData(
        toCreate.map((r) => r.envId),
        signal,
      );
      signal.throwIfAborted();
      const droplets = await this.#o.provider.createDroplets(
        toCreate.map((r) => dropletNameFor(r.envId)),
        { ...this.#o.shared, ...placement, tags: [...this.#o.tags], ...(userData === undefined ? {} : { userData }) },
        { signal },
      );
      this.#created(toCreate, droplets);
    } catch (error) {
      this.#failed(toCreate, error, signal);
    }
  }

  #created(batch: CreateRequest[], droplets: Droplet[]): void {
    const at = this.#o.clock.now();
    const byName = new Map(droplets.map((d) => [d.name, d]));
    this.stats.batches += 1;
    for (const request of batch) {
      const droplet = byName.get(dropletNameFor(request.envId));
      this.#o.fleet.noteMutation(request.envId);
      if (droplet) {
        this.stats.droplets += 1;
        this.#settle(request, { phase: 'created', droplet, at, batchSize: batch.length });
      } else {
        this.stats.unknown += 1;
        const error = new ToolbeltError('CREATE_ANSWER_INCOMPLETE', `DigitalOcean's answer did not list ${dropletNameFor(request.envId)}`);
        this.#o.fleet.noteMutation(request.envId, { settleMs: this.#o.unknownSettleMs });
        this.#settle(request, { phase: 'unknown', error, at });
      }
    }
  }

  #failed(batch: CreateRequest[], error: unknown, signal: AbortSignal): void {
    const at = this.#o.clock.now();
    // A rejection that is not DigitalOcean's (an abort while waiting for the budget, a failed
    // user_data) sent nothing; only a ProviderError can have acted.
    const kind = isProviderError(error) ? createFailureKind(error) : signal.aborted ? 'unknown' : 'retry';
    if (isProviderError(error)) this.stats.batches += 1;
    for (const request of batch) {
      if (kind === 'unknown') {
        this.stats.unknown += 1;
        this.#o.fleet.noteMutation(request.envId, { settleMs: this.#o.unknownSettleMs });
        this.#settle(request, { phase: 'unknown', error: asError(error), at });
      } else {
        this.stats.failed += 1;
        this.#settle(request, { phase: 'failed', kind, error: asError(error), at });
      }
    }
  }

  #settle(request: CreateRequest, outcome: CreateOutcome): void {
    if (!this.#abort) return; // stopped: outcomes are dropped with the term of leadership
    this.#outcomes.set(request.envId, outcome);
    this.#o.onSettled(request.wake);
  }

  #drop(batch: CreateRequest[]): void {
    for (const request of batch) this.#outcomes.delete(request.envId);
  }
}

function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new ProviderError({ kind: 'unexpected', endpoint: 'POST /v2/droplets', facts: { message: String(error) }, attempts: 0 });
}
