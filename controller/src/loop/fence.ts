/**
 * Fences for `ReconcileContext.fence`: the lease fence a leader's reconciles get, an open
 * one for a loop run without an election (tests, single-process tools), and a refusing one
 * for a replica that is not the leader.
 */
import type { Fence } from '@toolbelt/reconcilers';
import { sql } from 'drizzle-orm';
import { checkFence, type Db, FencedError, fenceCondition, type LeaseToken, withFence } from '@toolbelt/schema';

/** Writes go through only while `token` is the live lease (see `checkFence` in schema). */
export function leaseFence(db: Db, token: LeaseToken): Fence {
  return {
    epoch: token.epoch,
    condition: fenceCondition(token),
    async write(write) {
      const result = await withFence(db, token, write);
      if (result.kind === 'fenced') throw new FencedError(token, result.reason);
      return result.value;
    },
    async check() {
      const result = await checkFence(db, token);
      if (result.kind === 'fenced') throw new FencedError(token, result.reason);
    },
  };
}

/** No election: every write runs, in a transaction. Epoch 0. */
export function openFence(db: Db): Fence {
  return { epoch: 0, condition: sql`true`, write: (write) => db.transaction((tx) => write(tx)), check: async () => {} };
}

/** Refuses every write with `reason` (a replica that does not lead). */
export function refusingFence(reason: string): Fence {
  const refuse = async (): Promise<never> => {
    throw new FencedError(undefined, reason);
  };
  return { epoch: -1, condition: sql`false`, write: refuse, check: refuse };
}
