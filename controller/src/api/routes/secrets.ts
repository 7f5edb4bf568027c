/**
 * An agent's secrets: values go in (`PUT`), never come out; names and metadata can be
 * listed. The values are kept by the SecretStore passed to the API; without one these
 * routes answer 501.
 */
import { type SecretMetadata, secretNameSchema, sqlState, ToolbeltError } from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { ApiError, invalidField, notFoundError } from '../errors.ts';
import { requireAgent } from '../ops/agents.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { MAX_SECRET_BYTES } from '../../secrets/store.ts';
import type { SecretStore } from '../secrets.ts';
import { AUTH_ERRORS, agentParams, errors } from './common.ts';

const TAG = 'secrets';
const secretParams = agentParams.extend({ name: secretNameSchema });
const secretInfoSchema = z.object({ name: z.string(), version: z.number().int(), backend: z.string(), created_at: z.string(), updated_at: z.string() });
/** Metadata as shown: never the value, nor the key that wraps it. */
const secretInfo = (m: SecretMetadata) => ({
  name: m.name,
  version: m.version,
  backend: m.backend,
  created_at: m.created_at.toISOString(),
  updated_at: m.updated_at.toISOString(),
});

function store(deps: ApiDeps): SecretStore {
  if (!deps.secrets) {
    throw new ApiError(501, 'SECRETS_UNAVAILABLE', 'this controller has no secret store configured', {
      hint: 'start the controller with a secret store (a master key); see docs/api.md',
    });
  }
  return deps.secrets;
}

/**
 * What a failed `put` becomes. The store's own checks (name, size) speak of the input,
 * never of the value. Anything else is logged by its code only: a database error's message
 * can quote the statement's parameters, and one of them may be the value.
 */
function storeFailure(deps: ApiDeps, error: unknown, where: { agent: string; name: string }): ApiError {
  if (error instanceof ToolbeltError && error.code.startsWith('SECRET_') && error.code.endsWith('_INVALID')) {
    return invalidField(error.code === 'SECRET_NAME_INVALID' ? ['params', 'name'] : ['value'], error.message);
  }
  const code = error instanceof ToolbeltError ? error.code : (sqlState(error) ?? (error as Error).name);
  deps.logger.error({ ...where, code }, 'the secret store failed to store a value (details withheld: they may quote it)');
  return new ApiError(500, 'SECRET_STORE_FAILED', `the secret store could not store secret "${where.name}" (${code})`, {
    hint: 'see the controller log; nothing was stored',
  });
}

const putSecret = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'PUT',
    path: '/v1/agents/:id/secrets/:name',
    summary: "Set one of an agent's secrets (the value is never returned)",
    tag: TAG,
    access: 'operator',
    writes: ['Secret'],
    params: secretParams,
    body: z.strictObject({ value: z.string().min(1).max(MAX_SECRET_BYTES) }),
    responses: { 200: { description: 'stored', schema: secretInfoSchema }, ...errors(400, ...AUTH_ERRORS, 404, 501) },
    async handle({ params, body }) {
      const secrets = store(deps);
      const agent = await requireAgent(deps.db, params.id);
      try {
        return { status: 200, body: secretInfo(await secrets.put(agent.id, params.name, body.value)) };
      } catch (error) {
        throw storeFailure(deps, error, { agent: agent.name, name: params.name });
      }
    },
  });

const listSecrets = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id/secrets',
    summary: "List an agent's secret names (never values)",
    tag: TAG,
    access: 'viewer',
    params: agentParams,
    responses: { 200: { description: 'names and metadata', schema: z.object({ items: z.array(secretInfoSchema) }) }, ...errors(...AUTH_ERRORS, 404, 501) },
    async handle({ params }) {
      const secrets = store(deps);
      const agent = await requireAgent(deps.db, params.id);
      return { status: 200, body: { items: (await secrets.list(agent.id)).map(secretInfo) } };
    },
  });

const deleteSecret = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'DELETE',
    path: '/v1/agents/:id/secrets/:name',
    summary: "Delete one of an agent's secrets",
    tag: TAG,
    access: 'operator',
    writes: ['Secret'],
    params: secretParams,
    responses: { 204: { description: 'deleted' }, ...errors(400, ...AUTH_ERRORS, 404, 501) },
    async handle({ params }) {
      const secrets = store(deps);
      const agent = await requireAgent(deps.db, params.id);
      if (!(await secrets.remove(agent.id, params.name))) throw notFoundError(`secret "${params.name}" of agent "${agent.name}"`);
      return { status: 204 };
    },
  });

/** The secret routes. */
export const secretRoutes = (deps: ApiDeps): AnyRoute[] => [putSecret(deps), listSecrets(deps), deleteSecret(deps)];
