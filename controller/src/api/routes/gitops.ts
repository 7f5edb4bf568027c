/**
 * GitOps through the API: `GET /v1/gitops` (its settings, status, objects and history) and
 * `POST /v1/gitops/sync` (ask the leader for a sync now). The sync itself is
 * controller/src/gitops/sync.ts.
 */
import {
  GITOPS_KEY,
  GITOPS_KIND,
  type GitopsObject,
  type GitopsSync,
  latestGitopsSync,
  lastAppliedGitopsSync,
  listGitopsObjects,
  listGitopsSyncs,
  notifySpecChange,
  pendingGitopsRequests,
  requestGitopsSync,
} from '@toolbelt/schema';
import { z } from 'zod';
import { redactRepo } from '../../gitops/config.ts';
import { gitopsStatus } from '../../gitops/status.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { AUTH_ERRORS, errors } from './common.ts';

const syncSchema = z.object({
  id: z.number(),
  trigger: z.enum(['webhook', 'poll', 'manual']),
  commit: z.string().nullable(),
  author: z.string().nullable(),
  message: z.string().nullable(),
  started_at: z.string(),
  finished_at: z.string(),
  result: z.enum(['applied', 'failed']),
  changes: z.array(z.object({ kind: z.string(), name: z.string(), action: z.string(), changes: z.array(z.string()).optional() })),
  problems: z.array(z.object({ file: z.string().nullable(), document: z.number().nullable(), field: z.string(), message: z.string() })),
  error: z.string().nullable(),
  attempts: z.number().describe('how often this same failure happened in a row (retries of an unreachable remote)'),
});

const objectSchema = z.object({
  kind: z.string(),
  name: z.string(),
  repo: z.string(),
  file: z.string(),
  commit: z.string(),
  status: z.enum(['Synced', 'OutOfSync']),
  drift: z.array(z.string()).describe('what differs from git while OutOfSync'),
  synced_at: z.string(),
});

const statusSchema = z.object({
  enabled: z.boolean(),
  repo: z.string().optional(),
  branch: z.string().optional(),
  path: z.string().optional(),
  prune: z.boolean().optional(),
  self_heal: z.boolean().optional(),
  poll_ms: z.number().optional(),
  webhook: z.boolean().optional().describe('whether POST /webhooks/github is served (a secret is set)'),
  status: z.enum(['Unknown', 'Progressing', 'Failed', 'OutOfSync', 'Synced']).optional(),
  applied_commit: z.string().nullable().optional(),
  pending: z.number().optional().describe('sync requests waiting for the leader'),
  last: syncSchema.nullable().optional(),
  objects: z.array(objectSchema).optional(),
  history: z.array(syncSchema).optional(),
});

export const syncView = (s: GitopsSync) => ({
  id: s.id,
  trigger: s.trigger,
  commit: s.commit,
  author: s.author,
  message: s.message,
  started_at: s.started_at.toISOString(),
  finished_at: s.finished_at.toISOString(),
  result: s.result,
  changes: s.changes,
  problems: s.problems,
  error: s.error,
  attempts: s.attempts,
});

export const objectView = (o: GitopsObject) => ({ ...o, synced_at: o.synced_at.toISOString() });

const gitopsOff = () =>
  new ApiError(404, 'NOT_FOUND', 'GitOps is off in this controller', { hint: 'set TOOLBELT_GITOPS_REPO (see docs/gitops.md)' });

const statusRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/gitops',
    summary: "GitOps: its settings, status, the objects from git and the history of syncs",
    tag: 'gitops',
    access: 'viewer',
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(20).describe('syncs of history to show') }),
    responses: { 200: { description: 'the status (enabled: false when GitOps is off)', schema: statusSchema }, ...errors(400, 401) },
    async handle({ query }) {
      const settings = deps.gitops;
      if (!settings) return { status: 200, body: { enabled: false } };
      const [last, applied, pending, objects, history] = await Promise.all([
        latestGitopsSync(deps.db),
        lastAppliedGitopsSync(deps.db),
        pendingGitopsRequests(deps.db),
        listGitopsObjects(deps.db),
        listGitopsSyncs(deps.db, query.limit),
      ]);
      return {
        status: 200,
        body: {
          enabled: true,
          repo: redactRepo(settings.repo),
          branch: settings.branch,
          path: settings.path,
          prune: settings.prune,
          self_heal: settings.selfHeal,
          poll_ms: settings.pollMs,
          webhook: settings.webhookSecret !== undefined,
          status: gitopsStatus({ last, pending: pending.length, objects }),
          applied_commit: applied?.commit ?? null,
          pending: pending.length,
          last: last ? syncView(last) : null,
          objects: objects.map(objectView),
          history: history.map(syncView),
        },
      };
    },
  });

const syncRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/gitops/sync',
    summary: 'Ask the leader for a GitOps sync now (fetch the branch, apply it if it moved)',
    tag: 'gitops',
    access: 'operator',
    // It writes no object itself: the sync applies what the configured repository declares.
    writes: [],
    responses: {
      202: { description: 'requested; GET /v1/gitops shows it pending, then in the history', schema: z.object({ request: z.number() }) },
      ...errors(...AUTH_ERRORS, 404),
    },
    async handle({ caller }) {
      if (!deps.gitops) throw gitopsOff();
      const recorded = await deps.db.transaction(async (tx) => {
        const request = await requestGitopsSync(tx, { trigger: 'manual', requestedBy: caller?.name, at: new Date(deps.clock.now()) });
        await notifySpecChange(tx, { kind: GITOPS_KIND, key: GITOPS_KEY });
        return request;
      });
      return { status: 202, body: { request: recorded.outcome === 'recorded' ? recorded.id : 0 } };
    },
  });

export const gitopsRoutes = (deps: ApiDeps): AnyRoute[] => [statusRoute(deps), syncRoute(deps)];
