/**
 * Runs the embedder's hooks (onBoot, onDelete, onStatusChange, onRestart). A hook never breaks the
 * simulator: what it throws or rejects with is recorded in `errors`, and `drain()` waits
 * for hooks still running (close() calls it, so no hook outlives the simulator).
 */
import type { Clock } from '@toolbelt/schema/clock';
import { coerceError } from '@toolbelt/schema/errors';
import type { DropletInfo, DropletStatus, HookError } from './model.ts';

export interface SimulatorHooks {
  /** Called once per droplet, when it first becomes active (after its boot delay). */
  onBoot?: (droplet: DropletInfo) => unknown;
  /** Called when a droplet is deleted: by the API, by tag, or vanished by a fault. */
  onDelete?: (droplet: DropletInfo) => unknown;
  /** Called on every status change (new → active, active → off, ...). */
  onStatusChange?: (droplet: DropletInfo, from: DropletStatus) => unknown;
  /**
   * Called when a `power_cycle` or `reboot` of an active droplet completes: its status stays
   * `active`, but the machine restarted (whatever ran on it was stopped and started again).
   */
  onRestart?: (droplet: DropletInfo, action: 'power_cycle' | 'reboot') => unknown;
  /**
   * Asked once per droplet, at create: its public IPv4. Default (and on a throw or an answer
   * that is not an IPv4 address): an address of its own in 127.64.0.0/10. A plug-in that
   * makes droplets real on this machine says where they answer (local droplets: 127.0.0.1).
   */
  publicIpv4?: (droplet: { id: number; name: string }) => string;
}

/** At most this many hook errors are kept (the oldest are dropped). */
const MAX_ERRORS = 1000;

export class HookRunner {
  readonly errors: HookError[] = [];
  readonly #clock: Clock;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Calls `fn` now; records a throw or a rejection instead of letting it escape. */
  run(hook: HookError['hook'], dropletId: number, fn: () => unknown): void {
    try {
      const result = fn();
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        const tracked = Promise.resolve(result).then(
          () => undefined,
          (error: unknown) => this.#record(hook, dropletId, error),
        );
        this.#pending.add(tracked);
        void tracked.finally(() => this.#pending.delete(tracked));
      }
    } catch (error) {
      this.#record(hook, dropletId, error);
    }
  }

  /** `fn()`'s answer when `accept` takes it; otherwise undefined, and the throw or the answer is recorded. */
  value<T>(hook: HookError['hook'], dropletId: number, fn: () => T, accept: (value: T) => boolean): T | undefined {
    try {
      const value = fn();
      if (accept(value)) return value;
      this.#record(hook, dropletId, new Error(`${hook} answered ${JSON.stringify(value)}, which is not usable; the default is used`));
    } catch (error) {
      this.#record(hook, dropletId, error);
    }
    return undefined;
  }

  /** Resolves when every hook started so far has settled. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  #record(hook: HookError['hook'], dropletId: number, error: unknown): void {
    this.errors.push({ hook, dropletId, error: coerceError(error), at: this.#clock.now() });
    if (this.errors.length > MAX_ERRORS) this.errors.splice(0, this.errors.length - MAX_ERRORS);
  }
}
