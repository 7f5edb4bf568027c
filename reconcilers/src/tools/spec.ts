/**
 * From a tool instance and its catalog entry to the protocol's `ToolSpec` (pure): what the
 * agent is asked to install and run. Secret *values* never appear — only the names of the
 * environment variables the agent fetches with `secret_request`.
 *
 * The catalog's `default_config_template` (a JSON Schema) may carry two annotations besides
 * `x-toolbelt-secrets` (see docs/tools.md):
 * - `x-toolbelt-env` on a top-level property: the setting is also given to the tool as that
 *   environment variable (strings as they are, anything else as JSON);
 * - `x-toolbelt-launch` at the top: `{ args?, bin?, env?, mcpPath? }` — how to run the tool.
 */
import { createHash } from 'node:crypto';
import type { CatalogTool, ToolInstance } from '@toolbelt/schema';
import { RESERVED_ENV_HINT, reservedInSpec, type ToolSpec, toolSpecSchema } from '@toolbelt/schema/protocol';

export const ENV_KEYWORD = 'x-toolbelt-env';
export const LAUNCH_KEYWORD = 'x-toolbelt-launch';

/**
 * Maps a catalog package and version to what the agent installs. The controller uses it to
 * point the repository's own tools at the tarballs it serves (`/v1/packages/…`); the default
 * keeps both as they are.
 */
export type ResolvePackage = (catalog: CatalogTool, version: string) => { packageIdentifier: string; version: string };

export const identityPackage: ResolvePackage = (catalog, version) => ({ packageIdentifier: catalog.package_identifier, version });

/** How the controller turns catalog entries into specs. */
export interface SpecOptions {
  resolve?: ResolvePackage;
  /**
   * Where a tool listens on its droplet: `127.0.0.1` (default: reachable on the droplet only)
   * or `0.0.0.0` (reachable at the droplet's address, through the fleet firewall). A
   * container's ports are published there; a process tool is told in `HOST`.
   */
  hostIp?: string;
}

type Built = { ok: true; spec: ToolSpec } | { ok: false; reason: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Environment variables given by settings marked `x-toolbelt-env`. */
function envFromConfig(template: Record<string, unknown>, config: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  const properties = isRecord(template.properties) ? template.properties : {};
  for (const [key, schema] of Object.entries(properties)) {
    const name = isRecord(schema) ? schema[ENV_KEYWORD] : undefined;
    const value = config[key];
    if (typeof name !== 'string' || value === undefined || value === null) continue;
    env[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return env;
}

/** The `x-toolbelt-launch` block, loosely read (the spec schema checks it afterwards). */
function launchOf(template: Record<string, unknown>): Record<string, unknown> {
  const launch = template[LAUNCH_KEYWORD];
  return isRecord(launch) ? launch : {};
}

/** The catalog's ports, at `hostIp`; a container's are published on the same host port. */
function portsOf(catalog: CatalogTool, hostIp = '127.0.0.1') {
  const docker = catalog.packaging_type === 'docker_image';
  return catalog.ports.map((port) => (docker ? { port, hostPort: port, hostIp } : { port, hostIp }));
}

/** The spec of one tool instance, or why none can be made (a catalog entry that cannot work). */
export function buildToolSpec(tool: ToolInstance, catalog: CatalogTool, options: SpecOptions = {}): Built {
  const template = catalog.default_config_template;
  const launch = launchOf(template);
  const { packageIdentifier, version } = (options.resolve ?? identityPackage)(catalog, tool.version);
  const input = {
    instanceName: tool.instance_name,
    catalogToolName: catalog.tool_name,
    packagingType: catalog.packaging_type,
    packageIdentifier,
    version,
    transport: catalog.transport,
    ports: portsOf(catalog, options.hostIp),
    config: tool.config_details,
    // The agent sets PORT and HOST itself (from `ports`), for processes and containers alike.
    env: { ...(isRecord(launch.env) ? launch.env : {}), ...envFromConfig(template, tool.config_details) },
    secretEnv: Object.keys(tool.secret_refs).sort(),
    args: Array.isArray(launch.args) ? launch.args : [],
    ...(typeof launch.bin === 'string' ? { bin: launch.bin } : {}),
    ...(typeof launch.mcpPath === 'string' ? { mcpPath: launch.mcpPath } : {}),
    ...(catalog.health_check ? { healthCheck: catalog.health_check } : {}),
  };
  const parsed = toolSpecSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `catalog tool "${catalog.tool_name}" makes an unusable tool spec: ${issue.path.join('.') || '(spec)'} ${issue.message}` };
  }
  // Rows written before the API refused reserved names, or catalog entries made around it.
  const reserved = reservedInSpec(parsed.data);
  if (reserved.length > 0) {
    return { ok: false, reason: `the tool would set reserved environment variable(s) ${reserved.join(', ')}, which the agent refuses; change the catalog entry or secret_refs (${RESERVED_ENV_HINT})` };
  }
  return { ok: true, spec: parsed.data };
}

/**
 * What a delivery is made from: the spec and the versions of the secrets it names. A new
 * secret version changes it, so the tool is configured (and restarted) with the new value.
 */
export function deliveryFingerprint(spec: ToolSpec, secretVersions: Record<string, number | null>): string {
  const secrets = Object.keys(secretVersions)
    .sort()
    .map((name) => [name, secretVersions[name]]);
  return createHash('sha256').update(JSON.stringify({ spec, secrets })).digest('hex').slice(0, 32);
}
