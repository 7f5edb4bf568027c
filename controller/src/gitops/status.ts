/**
 * GitOps' status in one word, as Argo CD and Flux say it, computed from what is stored (so
 * every replica answers the same): the history, the pending requests, the objects' drift.
 */
import type { GitopsObject, GitopsSync } from '@toolbelt/schema';

/**
 * - `Unknown`: no sync has run yet.
 * - `Progressing`: a push or a manual request waits for the leader's sync.
 * - `Failed`: the last sync failed (a bad manifest, an unreachable remote); `error` says why.
 * - `OutOfSync`: objects from git were changed around it since (drift).
 * - `Synced`: the branch's last fetched commit is applied and nothing drifted.
 */
export type GitopsStatus = 'Unknown' | 'Progressing' | 'Failed' | 'OutOfSync' | 'Synced';

export function gitopsStatus(input: { last: GitopsSync | undefined; pending: number; objects: GitopsObject[] }): GitopsStatus {
  if (input.pending > 0) return 'Progressing';
  if (!input.last) return 'Unknown';
  if (input.last.result === 'failed') return 'Failed';
  if (input.objects.some((o) => o.status === 'OutOfSync')) return 'OutOfSync';
  return 'Synced';
}
