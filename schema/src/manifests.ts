/**
 * The declarative shapes of toolbelt, defined once with zod: the bodies the HTTP API takes
 * and the manifests `apply` takes (`kind: Agent`, `kind: CatalogTool`, `kind: Toolbelt`).
 * A manifest's `spec` is the same object the API's create call takes, so one schema
 * validates both and the OpenAPI document is generated from it.
 *
 * Field names follow the Agentopia plan's columns (`tool_name`, `version_info`,
 * `config_details`, …) so that its backend speaks the same words as the API.
 */
import { z } from 'zod';
import { isUuid } from './ids.ts';
import { DESIRED_TOOL_STATES, PACKAGING_TYPES, TRANSPORTS } from './tables.ts';
import { versionInfoSchema } from './types.ts';

export const MANIFEST_API_VERSION = 'toolbelt.dev/v1';

/** A resource name: letters, digits, `.`, `_`, `-`; up to 63 characters; never shaped like a uuid. */
export const resourceNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message: 'must be 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit',
  })
  .refine((v) => !isUuid(v), { message: 'must not look like a uuid (ids and names share URL paths)' });

/** A DigitalOcean region slug such as `nyc3`. */
export const regionSchema = z.string().regex(/^[a-z]{3}[0-9]$/, { message: 'must be a region slug such as "nyc3"' });
/** A DigitalOcean size slug such as `s-1vcpu-1gb`. */
export const sizeSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, { message: 'must be a size slug such as "s-1vcpu-1gb"' });
/** A DigitalOcean image slug such as `ubuntu-24-04-x64`. */
export const imageSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,62}$/, { message: 'must be an image slug such as "ubuntu-24-04-x64"' });
/** An environment variable name, as a tool reads a secret. */
export const envVarNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { message: 'must be an environment variable name such as OPENAI_API_KEY' });
/** The name of one of the agent's secrets. */
export const secretNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { message: 'must be 1–63 letters, digits, ".", "_" or "-"' });

/**
 * An agent's tool environment: `active` is the plan's `tool_environment_active` (true
 * provisions, false de-provisions). Region and size fall back to the controller's defaults
 * when the environment is created without them; the environment row (and so the toolbelt)
 * survives `active: false`.
 */
export const environmentSpecSchema = z.strictObject({
  active: z.boolean(),
  region: regionSchema.optional(),
  size: sizeSchema.optional(),
  image: imageSchema.optional(),
});
export type EnvironmentSpecInput = z.infer<typeof environmentSpecSchema>;

/**
 * The platform's own id for an agent (e.g. Agentopia's UUID): any 1–128 characters, unique.
 * The agent can then be addressed as `ext:<external_id>` wherever a name or id is accepted.
 */
export const externalIdSchema = z.string().min(1).max(128);

/** What an agent should have, besides its name. */
export const agentSpecSchema = z.strictObject({
  external_id: externalIdSchema.optional(),
  description: z.string().max(2000).optional(),
  environment: environmentSpecSchema.optional(),
});
export type AgentSpecInput = z.infer<typeof agentSpecSchema>;

/** `POST /v1/agents`. */
export const agentCreateSchema = agentSpecSchema.extend({ name: resourceNameSchema });
/** `PATCH /v1/agents/{id}` (the environment has its own route). */
export const agentUpdateSchema = z.strictObject({
  name: resourceNameSchema.optional(),
  /** null removes it. */
  external_id: externalIdSchema.nullable().optional(),
  description: z.string().max(2000).optional(),
});

/**
 * A catalog tool's spec. `default_config_template` is a JSON Schema (draft 2020-12 or 07)
 * for `config_details`: its `default`s are applied when a tool is added; an optional
 * `x-toolbelt-secrets` array names the environment variables that must be bound to secrets.
 */
export const catalogToolSpecSchema = z.strictObject({
  description: z.string().max(2000).optional(),
  version_info: versionInfoSchema,
  packaging_type: z.enum(PACKAGING_TYPES),
  package_identifier: z.string().min(1).max(300),
  default_config_template: z.record(z.string(), z.unknown()).optional(),
  transport: z.enum(TRANSPORTS).optional(),
  ports: z.array(z.number().int().min(1).max(65535)).max(32).optional(),
  health_check: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type CatalogToolSpecInput = z.infer<typeof catalogToolSpecSchema>;

/** `POST /v1/catalog`. */
export const catalogToolCreateSchema = catalogToolSpecSchema.extend({ tool_name: resourceNameSchema });
/** `PATCH /v1/catalog/{id}`: any field of the create body. */
export const catalogToolUpdateSchema = catalogToolCreateSchema.partial();

/** Secret references: environment variable → the agent's secret name (names only, never values). */
export const secretRefsSchema = z.record(envVarNameSchema, secretNameSchema);

/** An MCP tool's own name (as the tool lists it, without the gateway's `<instance>__` prefix). */
export const mcpToolNameSchema = z.string().min(1).max(128);

/**
 * A tool filter of the MCP gateway: the MCP tool names of one instance it offers
 * (`allowed_tools`) or hides (`denied_tools`). Null or omitted: no filter.
 */
export const toolFilterSchema = z.array(mcpToolNameSchema).max(1000).nullable();

/**
 * One tool instance of an agent's toolbelt. `instance_name` defaults to `tool_name`;
 * an omitted `version` means the catalog's default version. `allowed_tools` /
 * `denied_tools` filter what the gateway offers of it (allowed first, then denied).
 */
export const toolInstanceSpecSchema = z.strictObject({
  tool_name: resourceNameSchema,
  instance_name: resourceNameSchema.optional(),
  version: z.string().min(1).max(100).optional(),
  config_details: z.record(z.string(), z.unknown()).optional(),
  secret_refs: secretRefsSchema.optional(),
  desired_state: z.enum(DESIRED_TOOL_STATES).optional(),
  allowed_tools: toolFilterSchema.optional(),
  denied_tools: toolFilterSchema.optional(),
});
export type ToolInstanceSpecInput = z.infer<typeof toolInstanceSpecSchema>;

/** `PATCH /v1/agents/{id}/tools/{tool}`: config, version, secret references, desired state, filters (null clears one). */
export const toolUpdateSchema = z.strictObject({
  version: z.string().min(1).max(100).optional(),
  config_details: z.record(z.string(), z.unknown()).optional(),
  secret_refs: secretRefsSchema.optional(),
  desired_state: z.enum(DESIRED_TOOL_STATES).optional(),
  allowed_tools: toolFilterSchema.optional(),
  denied_tools: toolFilterSchema.optional(),
});

const metadataSchema = z.strictObject({ name: resourceNameSchema });
const apiVersionSchema = z.literal(MANIFEST_API_VERSION).optional();

/** `kind: Agent` — an agent and its environment. */
export const agentManifestSchema = z.strictObject({
  apiVersion: apiVersionSchema,
  kind: z.literal('Agent'),
  metadata: metadataSchema,
  spec: agentSpecSchema.default({}),
});

/** `kind: CatalogTool` — a kind of tool that can be installed. */
export const catalogToolManifestSchema = z.strictObject({
  apiVersion: apiVersionSchema,
  kind: z.literal('CatalogTool'),
  metadata: metadataSchema,
  spec: catalogToolSpecSchema,
});

/** `kind: Toolbelt` — the whole set of an agent's tool instances (`metadata.name` is the agent). */
export const toolbeltManifestSchema = z.strictObject({
  apiVersion: apiVersionSchema,
  kind: z.literal('Toolbelt'),
  metadata: metadataSchema,
  spec: z.strictObject({
    tools: z
      .array(toolInstanceSpecSchema)
      .max(100)
      .refine((tools) => new Set(tools.map((t) => t.instance_name ?? t.tool_name)).size === tools.length, {
        message: 'instance names must be unique within a toolbelt (set instance_name to install a tool twice)',
      }),
  }),
});

/** Any manifest, told apart by `kind`. */
export const manifestSchema = z.discriminatedUnion('kind', [
  agentManifestSchema,
  catalogToolManifestSchema,
  toolbeltManifestSchema,
]);
export type Manifest = z.infer<typeof manifestSchema>;
export type AgentManifest = z.infer<typeof agentManifestSchema>;
export type CatalogToolManifest = z.infer<typeof catalogToolManifestSchema>;
export type ToolbeltManifest = z.infer<typeof toolbeltManifestSchema>;
export const MANIFEST_KINDS = ['Agent', 'CatalogTool', 'Toolbelt'] as const;
export type ManifestKind = (typeof MANIFEST_KINDS)[number];
