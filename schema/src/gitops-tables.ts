/**
 * GitOps' tables (re-exported by tables.ts, which drizzle-kit reads): requests for a sync,
 * the history of syncs, and the objects that came from git.
 */
import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const inList = (column: string, values: readonly string[]) => sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

/** What started a GitOps sync. */
export const GITOPS_TRIGGERS = ['webhook', 'poll', 'manual'] as const;
export type GitopsTrigger = (typeof GITOPS_TRIGGERS)[number];

/** How a GitOps sync ended: `applied` (the commit's manifests are true), or `failed`. */
export const GITOPS_RESULTS = ['applied', 'failed'] as const;
export type GitopsResult = (typeof GITOPS_RESULTS)[number];

/** One object's outcome in a sync, as `apply` reports it. */
export interface GitopsChange {
  kind: string;
  name: string;
  action: string;
  changes?: string[];
}

/** Where a bad manifest is: the file (under the repository), the document in it (from 1), the field. */
export interface GitopsProblem {
  file: string | null;
  document: number | null;
  field: string;
  message: string;
}

/**
 * Requests for a GitOps sync, written by any replica (a verified GitHub push, `POST
 * /v1/gitops/sync`) and taken by the leader's sync, which sets `sync_id`. The key the
 * loop gets carries no event: the sync reads what is asked here.
 */
export const gitopsRequests = pgTable(
  'gitops_requests',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    trigger: text('trigger').$type<GitopsTrigger>().notNull(),
    /** GitHub's `X-GitHub-Delivery`: a replayed delivery is the same row, so it is done once. */
    delivery_id: text('delivery_id'),
    /** The pushed commit (`after`), or null for a manual request. */
    commit: text('commit'),
    /** Who asked: the pusher's name, or the API token's. */
    requested_by: text('requested_by'),
    received_at: ts('received_at').notNull().defaultNow(),
    /** The sync that took the request; null while pending. */
    sync_id: bigint('sync_id', { mode: 'number' }),
  },
  (t) => [
    uniqueIndex('gitops_requests_delivery_id_key').on(t.delivery_id),
    // Why: the sync looks for pending requests on every run.
    index('gitops_requests_pending_idx').on(t.id).where(sql`sync_id is null`),
    check('gitops_requests_trigger_check', inList('trigger', GITOPS_TRIGGERS)),
  ],
);

/**
 * The history of GitOps syncs: one row per sync that applied a commit or failed. A sync of
 * the commit already applied writes nothing; a failure repeating the last one (an
 * unreachable remote being retried) folds into its row (`attempts`, `finished_at`).
 */
export const gitopsSyncs = pgTable(
  'gitops_syncs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    trigger: text('trigger').$type<GitopsTrigger>().notNull(),
    repo: text('repo').notNull(),
    branch: text('branch').notNull(),
    path: text('path').notNull(),
    /** Null when the fetch itself failed. */
    commit: text('commit'),
    author: text('author'),
    message: text('message'),
    started_at: ts('started_at').notNull(),
    finished_at: ts('finished_at').notNull(),
    result: text('result').$type<GitopsResult>().notNull(),
    /** Each object's outcome (apply's results); on failure, empty: nothing was applied. */
    changes: jsonb('changes').$type<GitopsChange[]>().notNull().default([]),
    /** A bad manifest's problems: file, document, field. */
    problems: jsonb('problems').$type<GitopsProblem[]>().notNull().default([]),
    /** Why it failed, in words (an unreachable remote, bad credentials, a refused set). */
    error: text('error'),
    attempts: integer('attempts').notNull().default(1),
  },
  (t) => [
    index('gitops_syncs_started_at_idx').on(t.started_at),
    check('gitops_syncs_trigger_check', inList('trigger', GITOPS_TRIGGERS)),
    check('gitops_syncs_result_check', inList('result', GITOPS_RESULTS)),
  ],
);

/** Whether an object from git is as its commit declares it. */
export const GITOPS_OBJECT_STATUSES = ['Synced', 'OutOfSync'] as const;
export type GitopsObjectStatus = (typeof GITOPS_OBJECT_STATUSES)[number];

/**
 * The objects that came from git, by manifest kind and name, with their source (repository,
 * file, commit) and whether they still match it. Rows go when the object is pruned or no
 * longer declared.
 */
export const gitopsObjects = pgTable(
  'gitops_objects',
  {
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    repo: text('repo').notNull(),
    file: text('file').notNull(),
    commit: text('commit').notNull(),
    status: text('status').$type<GitopsObjectStatus>().notNull().default('Synced'),
    /** What differs from git while OutOfSync (apply's dry-run changes). */
    drift: jsonb('drift').$type<string[]>().notNull().default([]),
    synced_at: ts('synced_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.name] }), check('gitops_objects_status_check', inList('status', GITOPS_OBJECT_STATUSES))],
);
