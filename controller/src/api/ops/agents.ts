/**
 * Writes on agents and their tool environments, shared by the routes and `apply`. Each
 * takes a WriteContext (one transaction), throws ApiError on bad input, and announces the
 * spec changes it made in that transaction (`announceAgentChange`: delivered on commit only).
 */
import {
  type Agent,
  announceAgentChange,
  type AgentWithEnvironment,
  createAgent,
  createEnvironment,
  type Db,
  deleteAgentRow,
  ENVIRONMENT_KIND,
  type Environment,
  type EnvironmentSpecInput,
  getAgent,
  getAgentByExternalId,
  getAgentByName,
  getAgentWithEnvironment,
  isUuid,
  lockAgent,
  lockEnvironmentOfAgent,
  notifySpecChange,
  requestAgentDeletion,
  updateAgentSpec,
  updateEnvironmentSpec,
  updateEnvironmentStatus,
} from '@toolbelt/schema';
import { ApiError, conflictError, formatPath, invalidField, notFoundError, staleError } from '../errors.ts';
import { environmentEtag } from '../views.ts';
import type { WriteContext } from './context.ts';

/** How an agent is addressed by the platform's id: `ext:<external_id>`. */
export const EXTERNAL_ID_PREFIX = 'ext:';

/** An agent by id, by name, or by the platform's id (`ext:<external_id>`). */
export async function findAgent(db: Db, ref: string): Promise<Agent | undefined> {
  if (ref.startsWith(EXTERNAL_ID_PREFIX)) return getAgentByExternalId(db, ref.slice(EXTERNAL_ID_PREFIX.length));
  return isUuid(ref) ? getAgent(db, ref) : getAgentByName(db, ref);
}

/** An agent by id, name or ext:<external_id>, or 404. With `lock`, its row stays locked until the transaction ends. */
export async function requireAgent(db: Db, ref: string, options: { lock?: boolean } = {}): Promise<Agent> {
  const found = await findAgent(db, ref);
  const agent = found && options.lock ? await lockAgent(db, found.id) : found;
  if (!agent) throw notFoundError(`agent "${ref}"`, 'list agents with GET /v1/agents (toolbelt get agents)');
  return agent;
}

/** Refuses spec writes to an agent whose deletion is under way. */
export function assertNotDeleting(agent: Agent): void {
  if (agent.deletion_requested_at) {
    throw conflictError(`agent "${agent.name}" is being deleted`, 'wait until it is gone, then create it again');
  }
}

/** Parses an If-Match value that must be a generation. */
export function expectedGeneration(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined) return undefined;
  if (!/^\d+$/.test(ifMatch)) {
    throw invalidField(['headers', 'if-match'], 'must be the ETag of a GET of this resource (a generation number)');
  }
  return Number(ifMatch);
}

export async function reload(db: Db, id: string): Promise<AgentWithEnvironment> {
  const found = await getAgentWithEnvironment(db, id);
  if (!found) throw new Error(`agent ${id} vanished inside its own transaction`);
  return found;
}

/** Creates an agent (and its environment, when one is given). A taken name is a 409. */
export async function createAgentWrite(
  ctx: WriteContext,
  input: {
    name: string;
    external_id?: string | undefined;
    description?: string | undefined;
    environment?: EnvironmentSpecInput | undefined;
  },
  path: readonly PropertyKey[] = [],
): Promise<AgentWithEnvironment> {
  const created = await createAgent(ctx.tx, {
    name: input.name,
    description: input.description ?? '',
    ...(input.external_id === undefined ? {} : { external_id: input.external_id }),
  });
  if (created.kind === 'conflict') {
    const field = created.reason.startsWith('an agent with external_id') ? 'external_id' : 'name';
    throw new ApiError(409, 'CONFLICT', created.reason, {
      details: [{ path: formatPath([...path, field]), message: 'is taken' }],
      hint: field === 'name' ? 'pick another name, or change the existing agent with PATCH' : 'each external_id belongs to one agent',
    });
  }
  await announceAgentChange(ctx.tx, created.value.id);
  if (input.environment) await setEnvironment(ctx, created.value, input.environment);
  return reload(ctx.tx, created.value.id);
}

/** Renames or re-describes an agent; `ifMatch` guards against a stale write. */
export async function updateAgentWrite(
  ctx: WriteContext,
  ref: string,
  patch: { name?: string | undefined; description?: string | undefined; external_id?: string | null | undefined },
  ifMatch?: string,
): Promise<AgentWithEnvironment> {
  const agent = await requireAgent(ctx.tx, ref);
  assertNotDeleting(agent);
  const expected = expectedGeneration(ifMatch);
  const clean = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  const result = await updateAgentSpec(ctx.tx, agent.id, clean, expected);
  if (result.kind === 'not_found') throw notFoundError(`agent "${ref}"`);
  if (result.kind === 'conflict') {
    if (expected !== undefined && !result.reason.includes('already exists')) {
      const now = await getAgent(ctx.tx, agent.id);
      throw staleError(`agent "${agent.name}"`, String(expected), String(now?.generation));
    }
    throw conflictError(result.reason, 'pick another name (or external_id)');
  }
  if (result.value.generation !== agent.generation) await announceAgentChange(ctx.tx, agent.id);
  return reload(ctx.tx, agent.id);
}

/**
 * Deletes an agent. One without an environment row goes at once (`deleted`); one with an
 * environment is marked and torn down by the reconciler first (`deleting`).
 */
export async function deleteAgentWrite(ctx: WriteContext, ref: string, ifMatch?: string): Promise<'deleted' | 'deleting'> {
  const agent = await requireAgent(ctx.tx, ref, { lock: true });
  const expected = expectedGeneration(ifMatch);
  if (expected !== undefined && expected !== agent.generation) {
    throw staleError(`agent "${agent.name}"`, String(expected), String(agent.generation));
  }
  const environment = await lockEnvironmentOfAgent(ctx.tx, agent.id);
  if (!environment) {
    await deleteAgentRow(ctx.tx, agent.id);
    return 'deleted';
  }
  await requestAgentDeletion(ctx.tx, agent.id);
  await announceAgentChange(ctx.tx, agent.id);
  return 'deleting';
}

/**
 * Sets an agent's environment: creates the row when missing (region and size from the spec
 * or the configured defaults), changes region/size/image given and different, and flips
 * `tool_environment_active`. Returns the names of what changed (empty: nothing did).
 * `expectedEtag`, when given, must match the environment's ETag (the agent must be locked).
 */
export async function setEnvironment(
  ctx: WriteContext,
  agent: Agent,
  spec: EnvironmentSpecInput,
  expectedEtag?: string,
): Promise<string[]> {
  assertNotDeleting(agent);
  const environment = await lockEnvironmentOfAgent(ctx.tx, agent.id);
  if (expectedEtag !== undefined) {
    const actual = environmentEtag(agent.generation, environment?.generation);
    if (actual !== expectedEtag) throw staleError(`the environment of agent "${agent.name}"`, expectedEtag, actual);
  }
  const changed = environment ? await changeEnvironment(ctx, environment, spec) : await addEnvironment(ctx, agent, spec);
  if (agent.tool_environment_active !== spec.active) {
    await updateAgentSpec(ctx.tx, agent.id, { tool_environment_active: spec.active });
    changed.push('active');
  }
  if (changed.length > 0) await announceAgentChange(ctx.tx, agent.id);
  return changed;
}

async function addEnvironment(ctx: WriteContext, agent: Agent, spec: Partial<EnvironmentSpecInput>): Promise<string[]> {
  const created = await createEnvironment(ctx.tx, agent.id, {
    region: spec.region ?? ctx.defaults.region,
    size: spec.size ?? ctx.defaults.size,
    ...(spec.image === undefined ? {} : { image: spec.image }),
  });
  if (created.kind === 'conflict') throw conflictError(created.reason);
  return ['environment'];
}

async function changeEnvironment(ctx: WriteContext, environment: Environment, spec: EnvironmentSpecInput): Promise<string[]> {
  const patch: Partial<Record<'region' | 'size' | 'image', string>> = {};
  for (const key of ['region', 'size', 'image'] as const) {
    const wanted = spec[key];
    if (wanted !== undefined && wanted !== environment[key]) patch[key] = wanted;
  }
  const keys = Object.keys(patch);
  if (keys.length > 0) await updateEnvironmentSpec(ctx.tx, environment.id, patch);
  return keys;
}

/**
 * Starts an environment's boot attempts over (`toolbelt env retry`): its count of droplets
 * whose agent never said hello goes back to 0, so one stopped in BootFailed gets droplets
 * again (and one on its way there gets its full number of tries). The environment
 * reconciler is woken in the transaction. Returns the count it had. 404 without an environment.
 */
export async function retryEnvironmentWrite(ctx: WriteContext, ref: string): Promise<{ full: AgentWithEnvironment; bootFailures: number }> {
  const agent = await requireAgent(ctx.tx, ref, { lock: true });
  assertNotDeleting(agent);
  const environment = await lockEnvironmentOfAgent(ctx.tx, agent.id);
  if (!environment) {
    throw notFoundError(`the environment of agent "${agent.name}"`, `create it with PUT /v1/agents/${agent.name}/environment`);
  }
  if (environment.boot_failures > 0) {
    await updateEnvironmentStatus(ctx.tx, environment.id, { boot_failures: 0 });
    // A status write, but an operator's rare one (not a hot path): wake the lifecycle now.
    await notifySpecChange(ctx.tx, { kind: ENVIRONMENT_KIND, key: agent.id });
  }
  return { full: await reload(ctx.tx, agent.id), bootFailures: environment.boot_failures };
}

/**
 * The agent's environment, created inactive with the configured defaults when missing — so
 * that tools can be declared before the environment is switched on (friendly to `apply`).
 */
export async function ensureEnvironment(ctx: WriteContext, agent: Agent): Promise<Environment> {
  const existing = await lockEnvironmentOfAgent(ctx.tx, agent.id);
  if (existing) return existing;
  await addEnvironment(ctx, agent, {});
  await announceAgentChange(ctx.tx, agent.id);
  return (await lockEnvironmentOfAgent(ctx.tx, agent.id))!;
}
