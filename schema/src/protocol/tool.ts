/**
 * The shapes of tools on the wire: what the controller asks for (ToolSpec) and what the
 * agent reports (ToolStatusReport). Secret *values* never appear here: a spec names the
 * environment variables whose values the agent fetches with `secret_request`.
 */
import { z } from 'zod';
import { endpointSchema, toolCapabilitiesSchema } from '../types.ts';
import { MAX_LOG_LINE_CHARS } from './constants.ts';

/** How a tool is packaged (mirrors `PACKAGING_TYPES` of the store). */
export const PROTOCOL_PACKAGING_TYPES = ['docker_image', 'npm_package'] as const;
/** How a tool is reached (mirrors `TRANSPORTS` of the store). */
export const PROTOCOL_TRANSPORTS = ['mcp-stdio', 'mcp-http', 'http', 'none'] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An environment variable name (POSIX portable). */
export const envNameSchema = z.string().regex(ENV_NAME, 'must be an environment variable name');

/**
 * Ids on the wire (uuids in the store). Restricted to characters that are safe as a file
 * name and a container name, because the agent uses tool instance ids as both.
 */
export const wireIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1–128 letters, digits, ".", "_" or "-", not starting with a symbol');

/** A port a tool listens on and, optionally, the host port it is published on. */
export const portMappingSchema = z.object({
  /** The port inside the tool (container port, or the port the process listens on). */
  port: z.number().int().min(1).max(65535),
  /** The host port (docker only); defaults to `port`. */
  hostPort: z.number().int().min(1).max(65535).optional(),
  /** Where the host port is bound; loopback unless the controller opens it. */
  hostIp: z.string().min(1).max(64).default('127.0.0.1'),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
});
export type PortMapping = z.infer<typeof portMappingSchema>;

/** How the agent checks a tool's health. MCP transports default to an MCP session. */
export const healthCheckSchema = z.object({
  /** `mcp`: initialize + tools/list; `http`: GET `path` answers < 500; `process`: alive only. */
  kind: z.enum(['mcp', 'http', 'process']).optional(),
  path: z.string().max(1024).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  intervalMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
});
export type HealthCheck = z.infer<typeof healthCheckSchema>;

/**
 * Everything the agent needs to install and run one tool instance — never a secret value.
 * `env` holds non-secret variables; `secretEnv` names the variables whose values the agent
 * fetches over the socket and injects into the tool's environment only.
 */
export const toolSpecSchema = z
  .object({
    instanceName: z.string().min(1).max(128),
    catalogToolName: z.string().min(1).max(128).optional(),
    packagingType: z.enum(PROTOCOL_PACKAGING_TYPES),
    /** Image reference without tag (docker) or npm package name. */
    packageIdentifier: z.string().min(1).max(512),
    /** Image tag or npm version. */
    version: z.string().min(1).max(128),
    transport: z.enum(PROTOCOL_TRANSPORTS),
    ports: z.array(portMappingSchema).max(32).default([]),
    /** Non-secret settings; given to the tool as JSON in TOOLBELT_TOOL_CONFIG. */
    config: z.record(z.string(), z.unknown()).default({}),
    /** Non-secret environment variables. */
    env: z.record(envNameSchema, z.string().max(32_768)).default({}),
    /** Names of environment variables whose values are secrets, fetched by `secret_request`. */
    secretEnv: z.array(envNameSchema).max(64).default([]),
    /** Extra arguments (docker: the command; npm: arguments to the bin). */
    args: z.array(z.string().max(4096)).max(128).default([]),
    /** npm only: which bin of the package to run (default: its only or same-named bin). */
    bin: z.string().min(1).max(256).optional(),
    /** Path of the MCP endpoint for mcp-http tools. */
    mcpPath: z.string().max(1024).default('/mcp'),
    resources: z
      .object({
        memoryMb: z.number().int().min(16).max(1_048_576).optional(),
        cpus: z.number().positive().max(256).optional(),
      })
      .default({}),
    healthCheck: healthCheckSchema.optional(),
    /** docker only: name of a secret holding `username:password` for the image registry. */
    registryAuthSecret: z.string().min(1).max(128).optional(),
  })
  .refine((s) => !s.secretEnv.some((name) => name in s.env), {
    message: 'a variable cannot be both in env and in secretEnv',
    path: ['secretEnv'],
  });
export type ToolSpec = z.infer<typeof toolSpecSchema>;
export type ToolSpecInput = z.input<typeof toolSpecSchema>;

/** States a tool instance can be observed in on the droplet. */
export const TOOL_RUNTIME_STATES = [
  'installing',
  'installed',
  'starting',
  'running',
  'stopping',
  'stopped',
  'crash_loop',
  'error',
  'uninstalled',
] as const;
export type ToolRuntimeState = (typeof TOOL_RUNTIME_STATES)[number];

export const HEALTH_STATES = ['healthy', 'unhealthy', 'unknown'] as const;

/** One line of a tool's output. */
export const logLineSchema = z.object({
  at: z.string(),
  stream: z.enum(['stdout', 'stderr', 'agent']),
  text: z.string().max(MAX_LOG_LINE_CHARS),
});
export type LogLine = z.infer<typeof logLineSchema>;

/** What the agent observed of one tool instance: rebuilt from the runtime, never remembered. */
export const toolStatusReportSchema = z.object({
  toolInstanceId: wireIdSchema,
  instanceName: z.string().max(128),
  /** The generation of the spec the running tool was made from. */
  generation: z.number().int().nonnegative(),
  runtime: z.enum(['docker', 'process']),
  state: z.enum(TOOL_RUNTIME_STATES),
  endpoints: z.array(endpointSchema).default([]),
  health: z.object({
    status: z.enum(HEALTH_STATES),
    checkedAt: z.string().optional(),
    message: z.string().max(4096).optional(),
  }),
  capabilities: toolCapabilitiesSchema.optional(),
  lastExit: z
    .object({
      code: z.number().int().nullable(),
      signal: z.string().nullable(),
      at: z.string(),
    })
    .optional(),
  restarts: z.number().int().nonnegative().default(0),
  /** Why the tool is in `error` or `crash_loop`. */
  reason: z.string().max(4096).optional(),
  /** The last lines of output, sent when the tool is in error. */
  lastLogLines: z.array(logLineSchema).max(50).optional(),
  /** Runtime details for operators: container id, pid, image. */
  runtimeId: z.string().max(256).optional(),
});
export type ToolStatusReport = z.infer<typeof toolStatusReportSchema>;
