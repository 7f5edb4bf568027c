/**
 * Loads what the tools diff needs for one environment: its tool rows with their catalog
 * entries and specs, the versions of the secrets they name, what the agent reports, whether
 * it is connected, and the environment's recent commands.
 */
import {
  type CatalogTool,
  type DbOrTx,
  getAgent,
  getAgentSession,
  getCatalogTool,
  getEnvironment,
  listCommands,
  listSecretMetadata,
  listToolInstances,
  listToolObservations,
  type ToolInstance,
} from '@toolbelt/schema';
import { toolStatusReportSchema } from '@toolbelt/schema/protocol';
import type { ToolsDiffInput, Observation, ToolInput } from './plan.ts';
import { buildToolSpec, deliveryFingerprint, type SpecOptions } from './spec.ts';

/** How many of the environment's newest commands the diff looks at. */
const COMMAND_WINDOW = 500;

export interface ToolsState {
  rows: ToolInstance[];
  diff: Omit<ToolsDiffInput, 'now' | 'retry'>;
  /** The droplet is gone but what its agent reported is still stored: to be forgotten. */
  staleObservations: boolean;
}

async function catalogsOf(db: DbOrTx, rows: readonly ToolInstance[]): Promise<Map<string, CatalogTool>> {
  const catalogs = new Map<string, CatalogTool>();
  for (const id of new Set(rows.map((r) => r.tool_catalog_id))) {
    const catalog = await getCatalogTool(db, id);
    if (catalog) catalogs.set(id, catalog);
  }
  return catalogs;
}

function inputOf(row: ToolInstance, catalog: CatalogTool | undefined, versions: ReadonlyMap<string, number>, build: SpecOptions): ToolInput {
  if (!catalog) return { tool: row, spec: { ok: false, reason: `catalog tool ${row.tool_catalog_id} is gone` }, fingerprint: '', missingSecrets: [] };
  const spec = buildToolSpec(row, catalog, build);
  const secretNames = Object.values(row.secret_refs);
  const missingSecrets = [...new Set(secretNames.filter((name) => !versions.has(name)))].sort();
  const secretVersions = Object.fromEntries(secretNames.map((name) => [name, versions.get(name) ?? null]));
  const fingerprint = spec.ok ? deliveryFingerprint(spec.spec, secretVersions) : '';
  return { tool: row, spec, fingerprint, missingSecrets };
}

async function observationsOf(db: DbOrTx, environmentId: string): Promise<Map<string, Observation>> {
  const observed = new Map<string, Observation>();
  for (const row of await listToolObservations(db, environmentId)) {
    const parsed = toolStatusReportSchema.safeParse(row.report);
    if (parsed.success) observed.set(row.tool_instance_id, { report: parsed.data, observedAt: row.observed_at.getTime() });
  }
  return observed;
}

/** The state of one environment's toolbelt, or undefined when the environment is gone. */
export async function loadToolsState(db: DbOrTx, environmentId: string, build: SpecOptions): Promise<ToolsState | undefined> {
  const environment = await getEnvironment(db, environmentId);
  if (!environment) return undefined;
  const rows = await listToolInstances(db, environmentId);
  const catalogs = await catalogsOf(db, rows);
  const versions = new Map((await listSecretMetadata(db, environment.agent_id)).map((s) => [s.name, s.version]));
  const session = await getAgentSession(db, environmentId);
  // Without a droplet, whatever was reported last is gone with it.
  const hasDroplet = environment.droplet_id !== null && environment.status !== 'deleted';
  const stored = await observationsOf(db, environmentId);
  const observed = hasDroplet ? stored : new Map<string, Observation>();
  const agentConnected = hasDroplet && session !== undefined && session.disconnected_at === null && session.hello_at !== null;
  const commands = await listCommands(db, { environmentId, limit: COMMAND_WINDOW });
  const agent = await getAgent(db, environment.agent_id);
  const windingDown = environment.status === 'deleting' || !agent?.tool_environment_active || agent.deletion_requested_at !== null;
  return {
    rows,
    diff: {
      tools: rows.map((row) => inputOf(row, catalogs.get(row.tool_catalog_id), versions, build)),
      observed,
      commands,
      agentConnected,
      windingDown,
      dropletAddress: hasDroplet ? environment.ip_address : null,
    },
    staleObservations: !hasDroplet && stored.size > 0,
  };
}
