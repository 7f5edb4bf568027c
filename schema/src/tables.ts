/**
 * The tables of toolbelt's state store.
 *
 * Field names of the Agentopia plan (`agents`, `agent_droplets`, `tool_catalog`,
 * `agent_droplet_tools`) are kept as they are so that its backend can read them; the
 * spec/status fields of DESIGN.md are added beside them. Every resource row has user-owned
 * spec columns, controller-owned status columns, a `generation` that a trigger bumps on every
 * spec change (custom migration `0006_spec_columns_triggers`: a new spec column must join its
 * table's WHEN clause there, in a new migration), and `observed_generation` plus `conditions`
 * in status.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Condition, Endpoint, HostMetrics, ToolCapabilities, VersionInfo } from './types.ts';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => Buffer.from(value),
});

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const generation = () => bigint('generation', { mode: 'number' }).notNull().default(1);
const observedGeneration = () => bigint('observed_generation', { mode: 'number' }).notNull().default(0);
const conditions = () => jsonb('conditions').$type<Condition[]>().notNull().default([]);
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Lifecycle states of a tool environment (see docs/architecture.md, "Droplet lifecycle"). */
export const ENVIRONMENT_STATUSES = [
  'pending',
  'creating',
  'provisioning',
  'active',
  'unreachable',
  'deleting',
  'deleted',
  'error',
] as const;
export type EnvironmentStatus = (typeof ENVIRONMENT_STATUSES)[number];

export const TOOL_STATUSES = [
  'pending',
  'pending_config',
  'installing',
  'installed',
  'starting',
  'running',
  'active',
  'stopping',
  'stopped',
  'uninstalling',
  'error',
] as const;
export type ToolStatus = (typeof TOOL_STATUSES)[number];

export const PACKAGING_TYPES = ['docker_image', 'npm_package'] as const;
export type PackagingType = (typeof PACKAGING_TYPES)[number];

export const TRANSPORTS = ['mcp-stdio', 'mcp-http', 'http', 'none'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const DESIRED_TOOL_STATES = ['running', 'stopped'] as const;
export type DesiredToolState = (typeof DESIRED_TOOL_STATES)[number];

export const EVENT_TYPES = ['Normal', 'Warning'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const inList = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

/** An AI agent of the platform. `tool_environment_active` is the switch for its droplet. */
export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull().unique(),
    /**
     * The platform's own id for this agent (Agentopia's UUID), so that it can address the
     * agent without a mapping table: `/v1/agents/ext:<external_id>`. Any 1–128 characters.
     * Not a spec column: changing it moves no generation (nothing is reconciled from it).
     */
    external_id: text('external_id').unique(),
    description: text('description').notNull().default(''),
    tool_environment_active: boolean('tool_environment_active').notNull().default(false),
    /** Set when deletion was asked for; the row goes once its environment is torn down. */
    deletion_requested_at: ts('deletion_requested_at'),
    generation: generation(),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [check('agents_external_id_length_check', sql`char_length(${t.external_id}) between 1 and 128`)],
);

/**
 * An agent's tool environment: one row per agent, stable across droplet replacement (the
 * DigitalOcean `droplet_id` may change, the row does not).
 */
export const agentDroplets = pgTable(
  'agent_droplets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agent_id: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'restrict' }),
    // spec
    region: text('region').notNull(),
    size: text('size').notNull(),
    image: text('image').notNull().default('ubuntu-24-04-x64'),
    generation: generation(),
    // status
    droplet_id: bigint('droplet_id', { mode: 'number' }),
    ip_address: text('ip_address'),
    private_ip_address: text('private_ip_address'),
    status: text('status').$type<EnvironmentStatus>().notNull().default('pending'),
    observed_generation: observedGeneration(),
    conditions: conditions(),
    /** Intent recorded before a create call: the name the droplet is created under. */
    create_requested_at: ts('create_requested_at'),
    last_heartbeat_at: ts('last_heartbeat_at'),
    agent_version: text('agent_version'),
    host_metrics: jsonb('host_metrics').$type<HostMetrics>(),
    /**
     * Droplets in a row whose agent never said hello (the lifecycle's count toward BootFailed).
     * Status, not spec: it must not move `generation`. Back to 0 on a hello, a spec change, a
     * teardown or `toolbelt env retry`.
     */
    boot_failures: integer('boot_failures').notNull().default(0),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    // One environment per agent.
    uniqueIndex('agent_droplets_agent_id_key').on(t.agent_id),
    uniqueIndex('agent_droplets_droplet_id_key').on(t.droplet_id),
    check('agent_droplets_status_check', inList('status', ENVIRONMENT_STATUSES)),
  ],
);

/** A kind of tool that can be installed on a droplet. */
export const toolCatalog = pgTable(
  'tool_catalog',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tool_name: text('tool_name').notNull().unique(),
    description: text('description').notNull().default(''),
    version_info: jsonb('version_info').$type<VersionInfo>().notNull(),
    packaging_type: text('packaging_type').$type<PackagingType>().notNull(),
    package_identifier: text('package_identifier').notNull(),
    /** JSON Schema of the tool's settings with defaults, plus the secrets it needs. */
    default_config_template: jsonb('default_config_template').$type<Record<string, unknown>>().notNull().default({}),
    transport: text('transport').$type<Transport>().notNull().default('none'),
    ports: jsonb('ports').$type<number[]>().notNull().default([]),
    health_check: jsonb('health_check').$type<Record<string, unknown>>(),
    generation: generation(),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  () => [
    check('tool_catalog_packaging_type_check', inList('packaging_type', PACKAGING_TYPES)),
    check('tool_catalog_transport_check', inList('transport', TRANSPORTS)),
  ],
);

/** See `agentDropletTools.delivery`. */
export interface ToolDelivery {
  wireGeneration: number;
  specGeneration: number;
  fingerprint: string;
}

/** One catalog tool installed for one agent: a tool instance of its toolbelt. */
export const agentDropletTools = pgTable(
  'agent_droplet_tools',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agent_droplet_id: uuid('agent_droplet_id')
      .notNull()
      .references(() => agentDroplets.id, { onDelete: 'restrict' }),
    tool_catalog_id: uuid('tool_catalog_id')
      .notNull()
      .references(() => toolCatalog.id, { onDelete: 'restrict' }),
    // spec
    instance_name: text('instance_name').notNull(),
    version: text('version').notNull(),
    config_details: jsonb('config_details').$type<Record<string, unknown>>().notNull().default({}),
    /** Secret references by name: environment variable → the agent's secret name. */
    secret_refs: jsonb('secret_refs').$type<Record<string, string>>().notNull().default({}),
    desired_state: text('desired_state').$type<DesiredToolState>().notNull().default('running'),
    /** MCP tool names the gateway offers of this instance (null: all). */
    allowed_tools: jsonb('allowed_tools').$type<string[]>(),
    /** MCP tool names the gateway hides and refuses (applied after allowed_tools). */
    denied_tools: jsonb('denied_tools').$type<string[]>(),
    deletion_requested_at: ts('deletion_requested_at'),
    generation: generation(),
    // status
    status: text('status').$type<ToolStatus>().notNull().default('pending'),
    observed_generation: observedGeneration(),
    conditions: conditions(),
    endpoints: jsonb('endpoints').$type<Endpoint[]>().notNull().default([]),
    capabilities: jsonb('capabilities').$type<ToolCapabilities>(),
    last_error: text('last_error'),
    /**
     * What the tools reconciler last asked the agent for (status, written by it only): the
     * wire generation it sent, the spec generation and the fingerprint (spec + secret
     * versions) it came from. A new fingerprint gets the next wire generation.
     */
    delivery: jsonb('delivery').$type<ToolDelivery>(),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('agent_droplet_tools_instance_key').on(t.agent_droplet_id, t.instance_name),
    index('agent_droplet_tools_catalog_idx').on(t.tool_catalog_id),
    check('agent_droplet_tools_status_check', inList('status', TOOL_STATUSES)),
    check('agent_droplet_tools_desired_state_check', inList('desired_state', DESIRED_TOOL_STATES)),
  ],
);

/** Reconcile events; repeats of the same (object, type, reason, message) fold into one row. */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    type: text('type').$type<EventType>().notNull(),
    reason: text('reason').notNull(),
    message: text('message').notNull(),
    object_kind: text('object_kind').notNull(),
    object_id: text('object_id').notNull(),
    /** md5 of kind, id, type, reason and message: the key repeats fold on. */
    fingerprint: text('fingerprint').notNull(),
    count: integer('count').notNull().default(1),
    first_seen: ts('first_seen').notNull().defaultNow(),
    last_seen: ts('last_seen').notNull().defaultNow(),
    reporter: text('reporter').notNull().default('controller'),
  },
  (t) => [
    uniqueIndex('events_fingerprint_key').on(t.fingerprint),
    index('events_object_idx').on(t.object_kind, t.object_id, t.last_seen),
    index('events_last_seen_idx').on(t.last_seen),
    check('events_type_check', inList('type', EVENT_TYPES)),
  ],
);

/** Leader election: one row per lease; `epoch` grows with every change of holder (fencing). */
export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  epoch: bigint('epoch', { mode: 'number' }).notNull().default(1),
  acquired_at: ts('acquired_at').notNull().defaultNow(),
  renewed_at: ts('renewed_at').notNull().defaultNow(),
  expires_at: ts('expires_at').notNull(),
});

export const CREDENTIAL_KINDS = ['enrollment', 'agent'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/**
 * Per-droplet credentials, stored as hashes only: single-use enrollment tokens (carried in
 * user_data) and the agent credentials they are traded for.
 */
export const dropletCredentials = pgTable(
  'droplet_credentials',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agent_droplet_id: uuid('agent_droplet_id')
      .notNull()
      .references(() => agentDroplets.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<CredentialKind>().notNull(),
    token_hash: text('token_hash').notNull(),
    created_at: createdAt(),
    expires_at: ts('expires_at'),
    used_at: ts('used_at'),
    revoked_at: ts('revoked_at'),
  },
  (t) => [
    // A batch-created droplet set shares one enrollment token (DigitalOcean's multi-create
    // shares user_data), bound to each environment by its own row: the hash is unique per
    // environment, and the leading column serves the lookup by hash.
    uniqueIndex('droplet_credentials_token_hash_env_key').on(t.token_hash, t.agent_droplet_id),
    index('droplet_credentials_droplet_idx').on(t.agent_droplet_id),
    check('droplet_credentials_kind_check', inList('kind', CREDENTIAL_KINDS)),
  ],
);

/**
 * An agent's secrets, encrypted (AES-256-GCM envelope: a data key per row, wrapped by the
 * master key `key_id`). Values never leave through the API.
 */
export const secrets = pgTable(
  'secrets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agent_id: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    version: integer('version').notNull().default(1),
    backend: text('backend').notNull().default('local'),
    key_id: text('key_id').notNull(),
    wrapped_key: bytea('wrapped_key'),
    ciphertext: bytea('ciphertext'),
    /** Supabase Vault's secret id when the vault backend holds the value. */
    vault_secret_id: uuid('vault_secret_id'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [uniqueIndex('secrets_agent_name_key').on(t.agent_id, t.name)],
);

export const API_ROLES = ['caller', 'viewer', 'operator', 'admin'] as const;
/**
 * What an API token may do: callers use one agent's gateway (and read its toolbelt view),
 * viewers read, operators also write specs, admins also manage the catalog and tokens.
 */
export type ApiRole = (typeof API_ROLES)[number];

/**
 * Tokens of the HTTP API, stored as SHA-256 hashes only (a token is 32 random bytes, so a
 * plain hash is enough; no salt or slow hash is needed against guessing).
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    role: text('role').$type<ApiRole>().notNull(),
    /**
     * The one agent a `caller` token may reach (null for every other role). No foreign key on
     * purpose: a deleted agent's caller tokens reach nothing (a new agent gets a new id), and
     * truncating agents must not take the API tokens with it.
     */
    agent_id: uuid('agent_id'),
    token_hash: text('token_hash').notNull(),
    created_at: createdAt(),
    last_used_at: ts('last_used_at'),
    revoked_at: ts('revoked_at'),
  },
  (t) => [
    uniqueIndex('api_tokens_token_hash_key').on(t.token_hash),
    check('api_tokens_role_check', inList('role', API_ROLES)),
    check('api_tokens_caller_agent_check', sql`(role = 'caller') = (agent_id is not null)`),
  ],
);
/** Where a command is: queued → sent → accepted → done | failed, or timed_out past its deadline. */
export const COMMAND_STATUSES = ['queued', 'sent', 'accepted', 'done', 'failed', 'timed_out'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];
/** Statuses of a command that may still reach the agent or be answered. */
export const OPEN_COMMAND_STATUSES = ['queued', 'sent', 'accepted'] as const;

/**
 * Commands for droplet agents. Any replica writes a row (and NOTIFYs `toolbelt_commands`);
 * the replica holding the agent's socket sends it; the agent's answer updates the row. See
 * docs/agent.md, "The hub".
 */
export const commands = pgTable(
  'commands',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    agent_droplet_id: uuid('agent_droplet_id')
      .notNull()
      .references(() => agentDroplets.id, { onDelete: 'cascade' }),
    command_type: text('command_type').notNull(),
    /** Text, not a foreign key: an uninstall may name a tool the store no longer has. */
    tool_instance_id: text('tool_instance_id'),
    generation: bigint('generation', { mode: 'number' }),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull().default({}),
    /** `type:tool:generation` for commands that must not be open twice; null for one-offs. */
    dedupe_key: text('dedupe_key'),
    status: text('status').$type<CommandStatus>().notNull().default('queued'),
    /** The agent's answer: message, error, duplicate flag, tool status, log lines. */
    result: jsonb('result').$type<Record<string, unknown>>(),
    error_code: text('error_code'),
    attempts: integer('attempts').notNull().default(0),
    /** The replica that last sent it to the agent. */
    sent_by: text('sent_by'),
    created_at: createdAt(),
    updated_at: updatedAt(),
    sent_at: ts('sent_at'),
    finished_at: ts('finished_at'),
    deadline: ts('deadline').notNull(),
  },
  (t) => [
    // Delivery claims the open commands of one droplet.
    index('commands_droplet_status_idx').on(t.agent_droplet_id, t.status),
    // At most one open command per dedupe key: a reconcile that re-issues gets the open one.
    uniqueIndex('commands_open_dedupe_key')
      .on(t.agent_droplet_id, t.dedupe_key)
      .where(sql`status in ('queued', 'sent', 'accepted')`),
    // The timeout sweep looks only at open commands by deadline.
    index('commands_open_deadline_idx')
      .on(t.deadline)
      .where(sql`status in ('queued', 'sent', 'accepted')`),
    index('commands_finished_idx').on(t.finished_at),
    check('commands_status_check', inList('status', COMMAND_STATUSES)),
  ],
);

/**
 * The connection state of each environment's agent, written by the hub: which replica holds
 * its socket, when it connected and said hello, and what it said about itself.
 */
export const agentSessions = pgTable('agent_sessions', {
  agent_droplet_id: uuid('agent_droplet_id')
    .primaryKey()
    .references(() => agentDroplets.id, { onDelete: 'cascade' }),
  replica_id: text('replica_id').notNull(),
  /**
   * Where the holding replica takes the gateway requests other replicas forward to it
   * (`TOOLBELT_INTERNAL_URL`, or the address it listens on); null: it takes none.
   */
  replica_url: text('replica_url'),
  /** Unique per socket, so that a late close of an old socket does not mark a new one gone. */
  connection_id: text('connection_id').notNull(),
  credential_id: uuid('credential_id'),
  connected_at: ts('connected_at').notNull(),
  disconnected_at: ts('disconnected_at'),
  hello_at: ts('hello_at'),
  agent_version: text('agent_version'),
  protocol_version: integer('protocol_version'),
  hostname: text('hostname'),
  boot_id: text('boot_id'),
  reported_droplet_id: bigint('reported_droplet_id', { mode: 'number' }),
  runtimes: jsonb('runtimes').$type<string[]>().notNull().default([]),
});

/**
 * What each agent last reported of each tool on its droplet (hello inventory, tool_status,
 * command results). Tool instance ids are text: an agent may report a tool the store no
 * longer has (an orphan the tools reconciler removes).
 */
export const agentToolObservations = pgTable(
  'agent_tool_observations',
  {
    agent_droplet_id: uuid('agent_droplet_id')
      .notNull()
      .references(() => agentDroplets.id, { onDelete: 'cascade' }),
    tool_instance_id: text('tool_instance_id').notNull(),
    report: jsonb('report').$type<Record<string, unknown>>().notNull(),
    observed_at: ts('observed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.agent_droplet_id, t.tool_instance_id] })],
);

/**
 * Host metrics history for the console's charts: at most one point a minute per environment
 * (the last heartbeat of the minute), kept 24 hours — so at most 1,440 rows per environment.
 * The hub writes a point when an environment's minute changes and prunes older rows.
 */
export const hostMetricPoints = pgTable(
  'host_metric_points',
  {
    agent_droplet_id: uuid('agent_droplet_id')
      .notNull()
      .references(() => agentDroplets.id, { onDelete: 'cascade' }),
    minute: ts('minute').notNull(),
    metrics: jsonb('metrics').$type<HostMetrics>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.agent_droplet_id, t.minute] }),
    // Pruning deletes by age across all environments.
    index('host_metric_points_minute_idx').on(t.minute),
  ],
);

/**
 * Console sessions: an API token exchanged for an opaque cookie (only its SHA-256 is kept).
 * A session carries its token's role, ends at `expires_at`, on sign-out (`revoked_at`), and
 * with its token (revoking the token ends its sessions: the join checks the token).
 * `csrf_token` must come back in `X-CSRF-Token` on every write made with the cookie.
 */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    session_hash: text('session_hash').notNull(),
    token_id: uuid('token_id')
      .notNull()
      .references(() => apiTokens.id, { onDelete: 'cascade' }),
    csrf_token: text('csrf_token').notNull(),
    created_at: createdAt(),
    expires_at: ts('expires_at').notNull(),
    revoked_at: ts('revoked_at'),
  },
  (t) => [uniqueIndex('console_sessions_session_hash_key').on(t.session_hash), index('console_sessions_expires_at_idx').on(t.expires_at)],
);

/** How a gateway call ended. */
export const TOOL_CALL_OUTCOMES = ['ok', 'tool_error', 'error', 'timeout', 'cancelled', 'refused', 'unavailable'] as const;
export type ToolCallOutcome = (typeof TOOL_CALL_OUTCOMES)[number];

/**
 * The gateway's audit: one row per MCP call through it. Never the arguments or the result —
 * only who, what, how long, how it ended and how big. Pruned past a retention setting.
 */
export const toolCalls = pgTable(
  'tool_calls',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    at: ts('at').notNull(),
    /** The calling token's name (kept when the token is revoked or deleted). */
    caller: text('caller').notNull(),
    agent_id: uuid('agent_id').notNull(),
    /** The tool instance's name at the time, and the MCP method and tool (or prompt, resource) name. */
    instance_name: text('instance_name'),
    method: text('method').notNull(),
    tool: text('tool'),
    duration_ms: integer('duration_ms').notNull(),
    outcome: text('outcome').$type<ToolCallOutcome>().notNull(),
    /** The JSON-RPC error code of a failed call. */
    error_code: integer('error_code'),
    bytes_in: integer('bytes_in').notNull(),
    bytes_out: integer('bytes_out').notNull(),
  },
  (t) => [
    // Why: GET /v1/agents/{id}/calls pages an agent's calls newest first; pruning scans by time.
    index('tool_calls_agent_at_idx').on(t.agent_id, t.at),
    index('tool_calls_at_idx').on(t.at),
    check('tool_calls_outcome_check', inList('outcome', TOOL_CALL_OUTCOMES)),
  ],
);


// GitOps' tables, in their own file (one aggregate, one file).
export * from './gitops-tables.ts';
