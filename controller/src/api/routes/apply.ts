/**
 * `POST /v1/apply`: declarative manifests (JSON `{ documents, dryRun?, prune? }`, or a YAML
 * document stream with `?dryRun=true&prune=true`), applied all or nothing.
 */
import { z } from 'zod';
import { type ApplyResult, ApplyProblems, applyDocuments } from '../apply/apply.ts';
import { refusal, validateDocuments } from '../apply/documents.ts';
import { manifestWrites } from '../authz.ts';
import type { ApiDeps } from '../deps.ts';
import { write } from '../ops/context.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { AUTH_ERRORS, errors } from './common.ts';

const flag = z.enum(['true', 'false']).optional();

const applyBody = z.strictObject({
  documents: z.array(z.unknown()).max(1000).describe('manifests: kind Agent, CatalogTool or Toolbelt'),
  dryRun: z.boolean().optional().describe('compute and report the changes, write nothing'),
  prune: z.boolean().optional().describe('also delete what the set no longer declares (within the kinds it declares)'),
});

const applyResultSchema = z.object({
  kind: z.enum(['Agent', 'CatalogTool', 'Tool']),
  name: z.string(),
  action: z.enum(['created', 'configured', 'unchanged', 'deleted']),
  changes: z.array(z.string()).optional(),
});

const applyRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/apply',
    summary: 'Apply manifests: a server-side diff, written all or nothing',
    tag: 'apply',
    access: 'operator',
    writes: ({ body }) => manifestWrites(body.documents),
    query: z.strictObject({ dryRun: flag, prune: flag }),
    body: applyBody,
    yamlBody: true,
    maxBodyBytes: 8 * 1024 * 1024,
    responses: {
      200: {
        description: 'what changed (or, with dryRun, what would)',
        schema: z.object({ dryRun: z.boolean(), changed: z.boolean(), results: z.array(applyResultSchema) }),
      },
      ...errors(400, ...AUTH_ERRORS, 409, 413, 415),
    },
    async handle({ query, body }) {
      const dryRun = body.dryRun ?? query.dryRun === 'true';
      const prune = body.prune ?? query.prune === 'true';
      const documents = validateDocuments(body.documents);
      let results: ApplyResult[];
      try {
        results = await write(deps, (ctx) => applyDocuments(ctx, documents, { prune }), { dryRun });
      } catch (error) {
        if (error instanceof ApplyProblems) throw refusal(error.problems, body.documents);
        throw error;
      }
      return { status: 200, body: { dryRun, changed: results.some((r) => r.action !== 'unchanged'), results } };
    },
  });

export const applyRoutes = (deps: ApiDeps): AnyRoute[] => [applyRoute(deps)];
