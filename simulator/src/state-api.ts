/**
 * The state API an embedder (a test, a benchmark, the boot plug-in) uses to look at and
 * change the simulated account behind the API's back: faults that are about resources.
 */
import { ToolbeltError } from '@toolbelt/schema/errors';
import type { ActionStatus, DropletInfo, DropletStatus, HookError } from './model.ts';
import { type SimState, toInfo } from './state.ts';

/** An action as the state API reports it. */
export interface ActionInfo {
  readonly id: number;
  readonly type: string;
  readonly dropletId: number;
  readonly status: ActionStatus;
  readonly startedAt: number;
  readonly completedAt: number | undefined;
}

export interface SimulatorState {
  /** Every droplet, in id order, with transitions brought up to the clock's now. */
  listDroplets(): DropletInfo[];
  getDroplet(id: number): DropletInfo | undefined;
  getAction(id: number): ActionInfo | undefined;
  /** Deletes a droplet behind the controller's back (onDelete runs); false if there was none. */
  vanish(id: number): boolean;
  /** Forces a droplet's status (e.g. `off` to simulate a crash); hooks run; false if there was none. */
  setStatus(id: number, status: DropletStatus): boolean;
  /**
   * Keeps droplets in `new` until released: a droplet id (false if it is not `new`), or a
   * predicate applied to droplets in `new` now and to every droplet created later.
   */
  holdInNew(match: number | ((droplet: DropletInfo) => boolean)): boolean;
  /** Releases a held droplet; it becomes active at once if its boot time has passed. */
  release(id: number): boolean;
  /** Drops every hold predicate and releases every held droplet. */
  releaseAll(): void;
  /** The account's droplet limit; creates beyond it answer 422 as DigitalOcean does. */
  getDropletLimit(): number;
  setDropletLimit(limit: number): void;
  /** Errors thrown by hooks (the simulator records them and carries on). */
  hookErrors(): readonly HookError[];
}

const STATUSES: readonly DropletStatus[] = ['new', 'active', 'off', 'archive'];

export function createStateApi(state: SimState): SimulatorState {
  return {
    listDroplets: () => state.listDroplets().map(toInfo),
    getDroplet(id) {
      const droplet = state.droplet(id);
      return droplet && toInfo(droplet);
    },
    getAction(id) {
      const action = state.action(id);
      if (!action) return undefined;
      const { type, dropletId, status, startedAt, completedAt } = action;
      return { id, type, dropletId, status, startedAt, completedAt };
    },
    vanish: (id) => state.deleteDroplet(id),
    setStatus(id, status) {
      if (!STATUSES.includes(status)) {
        throw new ToolbeltError('SIMULATOR_BAD_STATUS', `unknown droplet status "${status}"`, { hint: `use one of ${STATUSES.join(', ')}` });
      }
      const droplet = state.droplet(id);
      if (!droplet) return false;
      droplet.held = false;
      state.setStatus(droplet, status);
      return true;
    },
    holdInNew: (match) => state.holdInNew(match),
    release: (id) => state.release(id),
    releaseAll: () => state.releaseAll(),
    getDropletLimit: () => state.dropletLimit,
    setDropletLimit(limit) {
      if (!Number.isInteger(limit) || limit < 0) {
        throw new ToolbeltError('SIMULATOR_BAD_OPTION', `droplet limit must be a whole number ≥ 0, got ${limit}`);
      }
      state.dropletLimit = limit;
    },
    hookErrors: () => [...state.hooks.errors],
  };
}
