/**
 * The API describing itself and the process: the OpenAPI document, Prometheus metrics, the
 * caller's identity, and API token management (admin).
 */
import { randomBytes } from 'node:crypto';
import { API_ROLES, createApiToken, hashApiToken, listApiTokens, revokeApiToken } from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { notFoundError } from '../errors.ts';
import { requireAgent } from '../ops/agents.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { AUTH_ERRORS, errors } from './common.ts';

/** A fresh API token: `tb_` and 32 random bytes, base64url. */
export const generateApiToken = (): string => `tb_${randomBytes(32).toString('base64url')}`;

const tokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(API_ROLES),
  agent_id: z.string().nullable().describe('the agent a caller token is bound to'),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
const tokenView = (t: {
  id: string;
  name: string;
  role: (typeof API_ROLES)[number];
  agent_id: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}) => ({
  id: t.id,
  name: t.name,
  role: t.role,
  agent_id: t.agent_id,
  created_at: t.created_at.toISOString(),
  last_used_at: t.last_used_at?.toISOString() ?? null,
  revoked_at: t.revoked_at?.toISOString() ?? null,
});

const metricsRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics of this replica',
    tag: 'system',
    access: 'public',
    responses: { 200: { description: 'Prometheus text exposition', contentType: 'text/plain' } },
    async handle() {
      const text = deps.metrics ? await deps.metrics.metrics() : '';
      const contentType = deps.metrics?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8';
      return { status: 200, text: { contentType, value: text } };
    },
  });

const whoamiRoute = (): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/whoami',
    summary: "The calling token's name and role",
    tag: 'tokens',
    access: 'viewer',
    responses: { 200: { description: 'the caller', schema: z.object({ name: z.string(), role: z.enum(API_ROLES) }) }, ...errors(401) },
    handle: ({ caller }) => ({ status: 200, body: { name: caller!.name, role: caller!.role } }),
  });

const createTokenRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/tokens',
    summary: 'Create an API token (admin; a caller token bound to one agent: operator); the token is shown in this answer only',
    tag: 'tokens',
    access: 'operator',
    writes: ({ body }) => (body.role === 'caller' ? ['CallerToken'] : ['ApiToken']),
    body: z
      .strictObject({
        name: z.string().min(1).max(100),
        role: z.enum(API_ROLES),
        agent: z.string().min(1).optional().describe('the agent (id or name) a caller token may reach; only with role caller'),
      })
      .refine((b) => (b.role === 'caller') === (b.agent !== undefined), {
        path: ['agent'],
        message: 'a caller token needs its agent, and only a caller token takes one',
      }),
    responses: {
      201: { description: 'created; keep `token`, it is not stored', schema: tokenViewSchema.extend({ token: z.string() }) },
      ...errors(400, ...AUTH_ERRORS),
    },
    async handle({ body }) {
      const agent = body.agent === undefined ? undefined : await requireAgent(deps.db, body.agent);
      const token = generateApiToken();
      const row = await createApiToken(deps.db, { name: body.name, role: body.role, tokenHash: hashApiToken(token), agentId: agent?.id });
      return { status: 201, body: { ...tokenView(row), token } };
    },
  });

const listTokensRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/tokens',
    summary: 'List API tokens (admin; never the tokens themselves)',
    tag: 'tokens',
    access: 'admin',
    responses: { 200: { description: 'tokens', schema: z.object({ items: z.array(tokenViewSchema) }) }, ...errors(...AUTH_ERRORS) },
    async handle() {
      return { status: 200, body: { items: (await listApiTokens(deps.db)).map(tokenView) } };
    },
  });

const revokeTokenRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'DELETE',
    path: '/v1/tokens/:id',
    summary: 'Revoke an API token (admin)',
    tag: 'tokens',
    access: 'admin',
    writes: ['ApiToken'],
    params: z.strictObject({ id: z.uuid() }),
    responses: { 200: { description: 'revoked', schema: tokenViewSchema }, ...errors(400, ...AUTH_ERRORS, 404) },
    async handle({ params }) {
      const result = await revokeApiToken(deps.db, params.id, new Date(deps.clock.now()));
      if (result.kind === 'not_found') throw notFoundError(`token ${params.id}`);
      return { status: 200, body: tokenView(result.value) };
    },
  });

/** The system and token routes (the OpenAPI route is added by the API itself). */
export const systemRoutes = (deps: ApiDeps): AnyRoute[] => [
  metricsRoute(deps),
  whoamiRoute(),
  createTokenRoute(deps),
  listTokensRoute(deps),
  revokeTokenRoute(deps),
];
