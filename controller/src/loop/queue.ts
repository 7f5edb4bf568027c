/**
 * The work queue of one reconciler kind (in memory, per replica; STYLE.md lesson 3).
 *
 * Invariants:
 * - A key waiting to run is in the queue once, however often it is added.
 * - A key is handed to one worker at a time: adding a key that is in flight marks it dirty,
 *   and `done` puts it back once, so it runs again after — never alongside.
 * - Failures back off per key (`addRateLimited`, 1 s doubling to 5 min, jittered) until
 *   `forget` (on success) resets the count.
 * - `get` takes a token from the shared rate limiter, if any, before handing a key out.
 *
 * Keys carry no event (STYLE.md lesson 1): a reconcile reads the current state.
 */
import { type Clock, systemClock, ToolbeltError } from '@toolbelt/schema';
import { type BackoffOptions, backoffDelay, backoffOptions } from './backoff.ts';
import { DelayedKeys } from './delayed.ts';
import type { TokenBucket } from './rate-limit.ts';

export interface WorkQueueOptions {
  clock?: Clock;
  backoff?: Partial<BackoffOptions>;
  /** A rate limit shared by every queue of the loop; none means unlimited. */
  limiter?: TokenBucket | undefined;
  /** Source of randomness for jitter (tests pass a fixed one). */
  random?: () => number;
}

/** How many keys are where. */
export interface QueueDepth {
  /** Waiting for a worker. */
  ready: number;
  /** Waiting for a time (requeueAfter, backoff). */
  delayed: number;
  /** Being reconciled. */
  inFlight: number;
}

/** Thrown to `get` callers when the queue is shut down. */
export class QueueShutDownError extends ToolbeltError {
  constructor() {
    super('QUEUE_SHUT_DOWN', 'the work queue was shut down');
    this.name = 'QueueShutDownError';
  }
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
}

export class WorkQueue {
  readonly #clock: Clock;
  readonly #backoff: BackoffOptions;
  readonly #limiter: TokenBucket | undefined;
  readonly #random: () => number;
  /** Keys that need a run: waiting in `#ready`, or in flight and due to run again. */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #ready = new Fifo();
  readonly #delayed: DelayedKeys;
  readonly #failures = new Map<string, number>();
  #waiters: Waiter[] = [];
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#backoff = backoffOptions(options.backoff);
    this.#limiter = options.limiter;
    this.#random = options.random ?? Math.random;
    this.#delayed = new DelayedKeys(this.#clock, (key) => this.add(key));
  }

  /** Queues `key` to run as soon as a worker is free (a no-op if it is waiting already). */
  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#ready.push(key);
    this.#wakeOne();
  }

  /** Queues `key` after `ms` of clock time; a key already due sooner keeps its earlier time. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) return this.add(key);
    this.#delayed.schedule(key, this.#clock.now() + ms);
  }

  /** Counts a failure of `key` and queues it after its backoff delay, which it returns. */
  addRateLimited(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const delay = backoffDelay(failures, this.#backoff, this.#random);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the failure count of `key` (after a success or a terminal failure). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Consecutive failures of `key` since it last succeeded. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** When `key` is next due by the clock, if it waits for a time. */
  dueAt(key: string): number | undefined {
    return this.#delayed.dueAt(key);
  }

  isInFlight(key: string): boolean {
    return this.#processing.has(key);
  }

  get depth(): QueueDepth {
    return { ready: this.#ready.length, delayed: this.#delayed.size, inFlight: this.#processing.size };
  }

  /**
   * Waits for a key, marks it in flight and returns it. The caller must call `done(key)`
   * when the reconcile has finished. Rejects with the signal's reason on abort, or with
   * `QueueShutDownError`.
   */
  async get(signal?: AbortSignal): Promise<string> {
    let key = this.#ready.shift();
    while (key === undefined) {
      await this.#waitForKey(signal);
      key = this.#ready.shift();
    }
    // In flight from here; still dirty until it has its token, so adds meanwhile are no-ops.
    this.#processing.add(key);
    try {
      await this.#limiter?.take(signal);
    } catch (error) {
      this.#processing.delete(key);
      if (this.#dirty.has(key)) {
        this.#ready.unshift(key);
        this.#wakeOne();
      }
      throw error;
    }
    this.#dirty.delete(key);
    return key;
  }

  /** Marks `key` finished; if it was added while in flight, it is queued again now. */
  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    if (this.#dirty.has(key) && !this.#shutDown) {
      this.#ready.push(key);
      this.#wakeOne();
    }
  }

  /** Drops every waiting key and failure count (keys in flight stay marked until `done`). */
  clear(): void {
    this.#dirty.clear();
    this.#ready.clear();
    this.#delayed.clear();
    this.#failures.clear();
  }

  /** Clears the queue, refuses further adds and rejects every waiting `get`. */
  shutDown(): void {
    this.#shutDown = true;
    this.clear();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(new QueueShutDownError());
  }

  #waitForKey(signal: AbortSignal | undefined): Promise<void> {
    if (this.#shutDown) return Promise.reject(new QueueShutDownError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (reason) => {
          signal?.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wakeOne(): void {
    this.#waiters.shift()?.resolve();
  }
}

/** A first-in first-out list of strings with O(1) push and shift. */
class Fifo {
  #items: string[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: string): void {
    this.#items.push(item);
  }

  unshift(item: string): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  shift(): string | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
