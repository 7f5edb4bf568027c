/**
 * GitOps' queries: requests for a sync (from webhooks and the API), the history of syncs,
 * and the objects that came from git (their source and whether they drifted).
 */
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import {
  type GitopsChange,
  type GitopsObjectStatus,
  gitopsObjects,
  type GitopsProblem,
  gitopsRequests,
  gitopsSyncs,
  type GitopsTrigger,
} from './gitops-tables.ts';

export type GitopsRequest = typeof gitopsRequests.$inferSelect;
export type GitopsSync = typeof gitopsSyncs.$inferSelect;
export type GitopsObject = typeof gitopsObjects.$inferSelect;

/** The loop's kind and key of the one GitOps sync (one configured repository). */
export const GITOPS_KIND = 'gitops';
export const GITOPS_KEY = 'repo';

/**
 * Records a request for a sync. With a `deliveryId` already seen (a replayed delivery) it
 * records nothing and answers `duplicate`.
 */
export async function requestGitopsSync(
  db: DbOrTx,
  input: { trigger: Exclude<GitopsTrigger, 'poll'>; deliveryId?: string; commit?: string; requestedBy?: string; at?: Date },
): Promise<{ outcome: 'recorded'; id: number } | { outcome: 'duplicate' }> {
  const rows = await db
    .insert(gitopsRequests)
    .values({
      trigger: input.trigger,
      delivery_id: input.deliveryId ?? null,
      commit: input.commit ?? null,
      requested_by: input.requestedBy ?? null,
      received_at: input.at ?? new Date(),
    })
    .onConflictDoNothing()
    .returning({ id: gitopsRequests.id });
  return rows[0] ? { outcome: 'recorded', id: rows[0].id } : { outcome: 'duplicate' };
}

/** Requests no sync has taken yet, oldest first. */
export async function pendingGitopsRequests(db: DbOrTx): Promise<GitopsRequest[]> {
  return db.select().from(gitopsRequests).where(isNull(gitopsRequests.sync_id)).orderBy(gitopsRequests.id).limit(1000);
}

/** Marks requests as taken by `syncId` (0: taken by a sync that wrote no history). */
export async function markGitopsRequests(db: DbOrTx, ids: number[], syncId: number): Promise<void> {
  if (ids.length === 0) return;
  await db.update(gitopsRequests).set({ sync_id: syncId }).where(and(inArray(gitopsRequests.id, ids), isNull(gitopsRequests.sync_id)));
}

export type GitopsSyncInput = Omit<typeof gitopsSyncs.$inferInsert, 'id' | 'attempts'>;

/** Adds a sync to the history. */
export async function recordGitopsSync(db: DbOrTx, input: GitopsSyncInput): Promise<GitopsSync> {
  const [row] = await db.insert(gitopsSyncs).values(input).returning();
  return row!;
}

/**
 * Records a failed sync, folding it into the latest one when that failed the same way
 * (same commit, same error): a remote retried while unreachable is one row, not hundreds.
 */
export async function recordGitopsFailure(db: DbOrTx, input: GitopsSyncInput): Promise<GitopsSync> {
  const last = await latestGitopsSync(db);
  if (last && last.result === 'failed' && last.commit === (input.commit ?? null) && last.error === (input.error ?? null)) {
    const [row] = await db
      .update(gitopsSyncs)
      .set({ attempts: sql`${gitopsSyncs.attempts} + 1`, finished_at: input.finished_at })
      .where(eq(gitopsSyncs.id, last.id))
      .returning();
    return row!;
  }
  return recordGitopsSync(db, { ...input, result: 'failed' });
}

/** The newest sync, if any. */
export async function latestGitopsSync(db: DbOrTx): Promise<GitopsSync | undefined> {
  const [row] = await db.select().from(gitopsSyncs).orderBy(desc(gitopsSyncs.id)).limit(1);
  return row;
}

/** The newest sync that applied a commit: what the cluster of objects is at. */
export async function lastAppliedGitopsSync(db: DbOrTx): Promise<GitopsSync | undefined> {
  const [row] = await db.select().from(gitopsSyncs).where(eq(gitopsSyncs.result, 'applied')).orderBy(desc(gitopsSyncs.id)).limit(1);
  return row;
}

/** The history, newest first. */
export async function listGitopsSyncs(db: DbOrTx, limit: number): Promise<GitopsSync[]> {
  return db.select().from(gitopsSyncs).orderBy(desc(gitopsSyncs.id)).limit(limit);
}

/** Problems in the shape stored. */
export type { GitopsChange, GitopsProblem };

/** The objects from git, by kind then name. */
export async function listGitopsObjects(db: DbOrTx): Promise<GitopsObject[]> {
  return db.select().from(gitopsObjects).orderBy(gitopsObjects.kind, gitopsObjects.name);
}

/** One object's source, if it came from git. */
export async function getGitopsObject(db: DbOrTx, kind: string, name: string): Promise<GitopsObject | undefined> {
  const [row] = await db.select().from(gitopsObjects).where(and(eq(gitopsObjects.kind, kind), eq(gitopsObjects.name, name)));
  return row;
}

/**
 * Makes the object table say what a commit declares: each declared object's source, all
 * Synced, and no row for what it no longer declares.
 */
export async function replaceGitopsObjects(
  db: DbOrTx,
  input: { repo: string; commit: string; at: Date; objects: { kind: string; name: string; file: string }[] },
): Promise<void> {
  await db.delete(gitopsObjects);
  if (input.objects.length === 0) return;
  await db.insert(gitopsObjects).values(
    input.objects.map((o) => ({ kind: o.kind, name: o.name, file: o.file, repo: input.repo, commit: input.commit, status: 'Synced' as const, drift: [], synced_at: input.at })),
  );
}

/** Sets an object's drift status; true when it changed (so an event is due). */
export async function setGitopsObjectStatus(
  db: DbOrTx,
  input: { kind: string; name: string; status: GitopsObjectStatus; drift: string[] },
): Promise<boolean> {
  const rows = await db
    .update(gitopsObjects)
    .set({ status: input.status, drift: input.drift })
    .where(
      and(
        eq(gitopsObjects.kind, input.kind),
        eq(gitopsObjects.name, input.name),
        sql`(${gitopsObjects.status} <> ${input.status} or ${gitopsObjects.drift} <> ${JSON.stringify(input.drift)}::jsonb)`,
      ),
    )
    .returning({ name: gitopsObjects.name });
  return rows.length > 0;
}
