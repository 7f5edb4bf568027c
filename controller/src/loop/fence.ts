/**
 * Fences for `ReconcileContext.fence`: the lease fence a leader's reconciles get, an open
 * one for a loop run without an election (tests, single-process tools), and a refusing one
 * for a replica that is not the leader.
 */
import type { Fence } from '@toolbelt/reconcilers';
import { type Db, FencedError, type LeaseToken, withFence } from '@toolbelt/schema';

/** Writes go through only while `token` is the live lease (see `checkFence` in schema). */
export function leaseFence(db: Db, token: LeaseToken): Fence {
  return {
    epoch: token.epoch,
    async write(write) {
      const result = await withFence(db, token, write);
      if (result.kind === 'fenced') throw new FencedError(token, result.reason);
      return result.value;
    },
  };
}

/** No election: every write runs, in a transaction. Epoch 0. */
export function openFence(db: Db): Fence {
  return { epoch: 0, write: (write) => db.transaction((tx) => write(tx)) };
}

/** Refuses every write with `reason` (a replica that does not lead). */
export function refusingFence(reason: string): Fence {
  return {
    epoch: -1,
    write: async () => {
      throw new FencedError(undefined, reason);
    },
  };
}
