/**
 * The catalog the controller starts with (idempotent: a tool whose name is already in the
 * catalog is left as it is, so an operator's edits stay):
 * - `echo` — the repository's echo MCP server as an npm package (served from the package
 *   shelf), over Streamable HTTP, with `prefix` (→ ECHO_PREFIX) and an optional ECHO_SECRET;
 * - `echo-docker` — the same as a container image from the local registry
 *   (`tools/echo-mcp/image/build.sh` builds and pushes it) — only with local droplets: the
 *   registry at 127.0.0.1:5000 exists on a developer's machine, never on a real droplet;
 * - `everything` — `@modelcontextprotocol/server-everything` from npm, over stdio.
 * See docs/tools.md.
 */
import { type CatalogToolSpec, createCatalogTool, type Db, getCatalogToolByName } from '@toolbelt/schema';
import type { Logger } from '../logger.ts';

/** Default ports of the seeded HTTP tools on a droplet (operators may change them in the catalog). */
export const ECHO_PORT = 18_765;
export const ECHO_DOCKER_PORT = 18_766;

const echoTemplate = (extra: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', default: '', maxLength: 200, description: 'text put before every echo', 'x-toolbelt-env': 'ECHO_PREFIX' },
  },
  // The one secret it reads (its secret_fingerprint tool); only declared variables may be bound.
  'x-toolbelt-optional-secrets': ['ECHO_SECRET'],
  ...extra,
});

export interface SeedOptions {
  /** Droplets run on this machine (local droplets): they reach its registry at 127.0.0.1:5000. */
  localDroplets: boolean;
}

/** The seeded catalog entries. */
export function seedCatalog(echoVersion: string, options: SeedOptions): CatalogToolSpec[] {
  return [
    {
      tool_name: 'echo',
      description: "toolbelt's example MCP server: echo and secret_fingerprint tools (Streamable HTTP)",
      version_info: { versions: [echoVersion], default: echoVersion },
      packaging_type: 'npm_package',
      package_identifier: '@toolbelt/echo-mcp',
      transport: 'mcp-http',
      ports: [ECHO_PORT],
      // Listens at HOST:PORT, which the agent sets (HOST: where the controller wants tools reachable).
      default_config_template: echoTemplate({ 'x-toolbelt-launch': { args: ['--transport', 'http'] } }),
    },
    ...(options.localDroplets ? [echoDocker(echoVersion)] : []),
    {
      tool_name: 'everything',
      description: "the MCP project's reference server with every feature (@modelcontextprotocol/server-everything), over stdio",
      version_info: { versions: ['2026.8.31'], default: '2026.8.31' },
      packaging_type: 'npm_package',
      package_identifier: '@modelcontextprotocol/server-everything',
      transport: 'mcp-stdio',
      ports: [],
      default_config_template: { type: 'object', additionalProperties: false, properties: {} },
    },
  ];
}

function echoDocker(echoVersion: string): CatalogToolSpec {
  return {
    tool_name: 'echo-docker',
    description: 'the echo MCP server as a container image (build it with tools/echo-mcp/image/build.sh)',
    version_info: { versions: [echoVersion], default: echoVersion },
    packaging_type: 'docker_image',
    package_identifier: '127.0.0.1:5000/toolbelt/echo-mcp',
    transport: 'mcp-http',
    ports: [ECHO_DOCKER_PORT],
    // The agent tells a container PORT and HOST=0.0.0.0 (its own network; published on the droplet at hostIp).
    default_config_template: echoTemplate({}),
  };
}

/** Adds each seeded tool that the catalog does not have yet; returns the names added. */
export async function seedCatalogTools(db: Db, logger: Logger, echoVersion: string, options: SeedOptions): Promise<string[]> {
  const added: string[] = [];
  for (const spec of seedCatalog(echoVersion, options)) {
    if (await getCatalogToolByName(db, spec.tool_name)) continue;
    const created = await createCatalogTool(db, spec);
    if (created.kind === 'ok') added.push(spec.tool_name);
  }
  if (added.length > 0) logger.info({ tools: added }, `seeded the catalog with ${added.join(', ')}`);
  return added;
}
