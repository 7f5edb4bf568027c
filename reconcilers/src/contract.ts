/**
 * The one reconcile contract (STYLE.md lesson 1). Reconcilers live in this room and import
 * only `@toolbelt/schema`; the controller's loop (`controller/src/loop/`) implements the
 * context and runs them — queueing, per-key serialisation, backoff, timeouts, logging of
 * errors and counting of outcomes happen there, once, and never in a reconciler.
 *
 * A reconcile is keyed by id only and reads as steps: load desired → handle deletion →
 * observe → diff → act (idempotently) → write status and events.
 * - Return nothing (or `{}`) when done; a missing row is success.
 * - Return `{ requeueAfterMs }` to be reconciled again after that long (e.g. while waiting
 *   for a droplet to boot); there is no bare "requeue: true".
 * - Throw to be retried with per-key exponential backoff; the loop logs the error, once.
 * - Throw a `TerminalError` when retrying cannot help (e.g. an invalid spec): no retry, but
 *   the loop records a Warning event with its reason and message. Write a condition saying
 *   why before throwing it.
 */
import type { Clock, Db, DbOrTx, FenceCondition } from '@toolbelt/schema';
import { ToolbeltError } from '@toolbelt/schema';

/** One log method: pino's shape (`logger.info({ droplet }, 'created')` or `logger.info('msg')`). */
export interface ReconcileLogFn {
  (fields: Record<string, unknown>, message?: string): void;
  (message: string): void;
}

/** The logger a reconcile gets; every line carries reconcileId, kind, key (and generation). */
export interface ReconcileLogger {
  trace: ReconcileLogFn;
  debug: ReconcileLogFn;
  info: ReconcileLogFn;
  warn: ReconcileLogFn;
  error: ReconcileLogFn;
}

/** The object an event is about. */
export interface ObjectRef {
  kind: string;
  id: string;
}

/**
 * Records events about the object being reconciled (or another, when `object` is given).
 * Repeats of the same type, reason and message on one object fold into one row whose count
 * and last-seen time grow. `reason` is a short CamelCase word (`DropletCreated`).
 */
export interface EventRecorder {
  normal(reason: string, message: string, object?: ObjectRef): Promise<void>;
  warning(reason: string, message: string, object?: ObjectRef): Promise<void>;
}

/**
 * Guards writes with the leader lease: a deposed leader's late writes are refused.
 * WARNING: every write a reconciler makes after acting on the outside world (status,
 * intent records) should go through `write`, or a replica that lost its lease mid-reconcile
 * can overwrite what the new leader wrote.
 */
export interface Fence {
  /** The lease epoch this reconcile runs under; 0 when the loop runs without an election (tests). */
  readonly epoch: number;
  /**
   * Runs `write` in a transaction that first checks that this replica still holds the lease
   * at `epoch` (and share-locks it until commit). Throws `FencedError` from
   * `@toolbelt/schema`, writing nothing, when it does not; the loop counts that reconcile
   * as `fenced` and does not retry it here.
   */
  write<T>(write: (tx: DbOrTx) => Promise<T>): Promise<T>;
  /**
   * The cheap form for a single statement: add `condition` to its WHERE clause (see
   * `fenceCondition` in schema) and it writes only while the lease holds — one round trip
   * instead of a transaction's four. When it wrote no row, call `check()`: it throws
   * `FencedError` if the fence was the reason, and returns if the row is simply gone.
   */
  readonly condition: FenceCondition;
  check(): Promise<void>;
}

/** What a reconcile is given. */
export interface ReconcileContext {
  readonly db: Db;
  /** A child logger carrying reconcileId, kind and key. */
  readonly logger: ReconcileLogger;
  readonly clock: Clock;
  /** Events about the key's object (kind = the reconciler's kind, id = the key). */
  readonly events: EventRecorder;
  /** Aborts on the per-reconcile timeout and on shutdown or loss of leadership; pass it on. */
  readonly signal: AbortSignal;
  readonly fence: Fence;
  /** Unique per reconcile; also on every log line. */
  readonly reconcileId: string;
  /** Tags this reconcile's later log lines and its outcome with the generation being acted on. */
  setGeneration(generation: number): void;
}

/** What a reconcile may return: nothing, or when to look again. */
export type ReconcileResult = { requeueAfterMs?: number } | void;

/** One reconciler per kind of resource. */
export interface Reconciler {
  /** The kind of key it reconciles (`environment`, `tools`…): letters, digits, `_`, `.`, `-`. */
  readonly kind: string;
  reconcile(ctx: ReconcileContext, key: string): Promise<ReconcileResult>;
  /** Every key that exists, for the periodic resync (and the one on gaining leadership). */
  listKeys?(db: Db): Promise<string[]>;
}

/** A failure retrying cannot fix: not retried, but recorded as a Warning event with `reason`. */
export class TerminalError extends ToolbeltError {
  /** The event reason, CamelCase (default `ReconcileFailed`). */
  readonly reason: string;

  constructor(message: string, options: { reason?: string; hint?: string; cause?: unknown } = {}) {
    super('RECONCILE_TERMINAL', message, { hint: options.hint, cause: options.cause });
    this.name = 'TerminalError';
    this.reason = options.reason ?? 'ReconcileFailed';
  }
}
