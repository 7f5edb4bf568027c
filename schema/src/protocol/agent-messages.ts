/**
 * Messages the droplet agent sends to the controller.
 */
import { z } from 'zod';
import { hostMetricsSchema } from '../types.ts';
import { AGENT_ERROR_CODES, MAX_LOG_LINES_PER_MESSAGE } from './constants.ts';
import { mcpReplyMessageSchema } from './gateway.ts';
import { envNameSchema, logLineSchema, toolStatusReportSchema, wireIdSchema } from './tool.ts';

/** `v`: the protocol version of the message (checked before the schema, see parse.ts). */
const v = z.number().int().positive();
const errorCode = z.enum(Object.values(AGENT_ERROR_CODES) as [string, ...string[]]);

/** Who the agent is: the credential says it to the controller, this says it to humans. */
export const dropletIdentitySchema = z.object({
  /** The environment (agent_droplets row) id, learned from `enrolled`; absent before. */
  environmentId: wireIdSchema.optional(),
  /** DigitalOcean droplet id, when the agent could read it (cloud-init instance id). */
  dropletId: z.number().int().positive().optional(),
  hostname: z.string().max(255),
  /** Changes on every boot (/proc/sys/kernel/random/boot_id): tells a reboot from a reconnect. */
  bootId: z.string().max(64).optional(),
});
export type DropletIdentity = z.infer<typeof dropletIdentitySchema>;

/** The first message on every connection: who, which versions, and everything that runs. */
export const helloMessageSchema = z.object({
  type: z.literal('hello'),
  v,
  agentVersion: z.string().min(1).max(64),
  protocolVersion: z.number().int().positive(),
  droplet: dropletIdentitySchema,
  /** Runtimes this droplet can run tools with. */
  runtimes: z.array(z.enum(['docker', 'process'])),
  /** The full inventory, rediscovered from the runtimes on this connect. */
  inventory: z.array(toolStatusReportSchema).max(1000),
  startedAt: z.string(),
});

export const heartbeatMessageSchema = z.object({
  type: z.literal('heartbeat'),
  v,
  agentVersion: z.string().min(1).max(64),
  /** Increases by one per heartbeat on a connection. */
  seq: z.number().int().nonnegative(),
  metrics: hostMetricsSchema,
  /** How many tools the agent has (cheap drift check without the full inventory). */
  toolCount: z.number().int().nonnegative(),
});

export const COMMAND_RESULT_STATUSES = ['accepted', 'progress', 'done', 'failed'] as const;

/** The answer to a command: `accepted` first, maybe `progress`, then `done` or `failed`. */
export const commandResultMessageSchema = z.object({
  type: z.literal('command_result'),
  v,
  commandId: wireIdSchema,
  toolInstanceId: wireIdSchema.optional(),
  generation: z.number().int().nonnegative().optional(),
  status: z.enum(COMMAND_RESULT_STATUSES),
  /** Human-readable progress or outcome. */
  message: z.string().max(4096).optional(),
  /** Set when `status` is `failed`. */
  error: z.object({ code: errorCode, reason: z.string().max(4096) }).optional(),
  /** True when the agent had already applied this command id (a duplicate). */
  duplicate: z.boolean().optional(),
  /** The tool's status after the command, when it concerns a tool. */
  tool: toolStatusReportSchema.optional(),
});

/** A change of one tool's observed status (state, health, capabilities). */
export const toolStatusMessageSchema = z.object({
  type: z.literal('tool_status'),
  v,
  tool: toolStatusReportSchema,
});

/** Full inventory, sent when the controller asks (`request_inventory`). */
export const inventoryMessageSchema = z.object({
  type: z.literal('inventory'),
  v,
  requestId: wireIdSchema.optional(),
  inventory: z.array(toolStatusReportSchema).max(1000),
});

/** Tool output, in answer to a `get_logs` command (with its commandId) or streamed. */
export const logsMessageSchema = z.object({
  type: z.literal('logs'),
  v,
  toolInstanceId: wireIdSchema,
  commandId: wireIdSchema.optional(),
  /** Set on lines of a `logs_follow` stream. */
  streamId: wireIdSchema.optional(),
  /** On a stream: the last message (the tool is gone, or the stream was stopped). */
  end: z.boolean().optional(),
  lines: z.array(logLineSchema).max(MAX_LOG_LINES_PER_MESSAGE),
  /** True when older lines were dropped from the bounded buffer. */
  truncated: z.boolean(),
});

/** Asks for the values of a tool's secret environment variables. */
export const secretRequestMessageSchema = z.object({
  type: z.literal('secret_request'),
  v,
  requestId: wireIdSchema,
  toolInstanceId: wireIdSchema,
  /** Environment variable names from the tool's `secretEnv` (plus `registryAuthSecret`). */
  names: z.array(envNameSchema.or(z.string().min(1).max(128))).min(1).max(64),
});

/** Confirms a credential from `enrolled`/`rotate_credential` is stored; the old one may go. */
export const credentialAckMessageSchema = z.object({
  type: z.literal('credential_ack'),
  v,
  credentialId: wireIdSchema,
});

/** The agent could not use a message from the controller. */
export const agentErrorMessageSchema = z.object({
  type: z.literal('error'),
  v,
  code: errorCode,
  detail: z.string().max(4096),
  /** The id of the message this is about, when it had one. */
  inReplyTo: z.string().max(128).optional(),
});

/** Every message an agent may send. */
export const agentMessageSchema = z.discriminatedUnion('type', [
  helloMessageSchema,
  heartbeatMessageSchema,
  commandResultMessageSchema,
  toolStatusMessageSchema,
  inventoryMessageSchema,
  logsMessageSchema,
  secretRequestMessageSchema,
  credentialAckMessageSchema,
  agentErrorMessageSchema,
  mcpReplyMessageSchema,
]);
export type AgentMessage = z.infer<typeof agentMessageSchema>;
export type AgentMessageType = AgentMessage['type'];
/** An agent message of one type. */
export type AgentMessageOf<T extends AgentMessageType> = Extract<AgentMessage, { type: T }>;
export type HelloMessage = AgentMessageOf<'hello'>;
export type HeartbeatMessage = AgentMessageOf<'heartbeat'>;
export type CommandResultMessage = AgentMessageOf<'command_result'>;
export type CommandResultStatus = (typeof COMMAND_RESULT_STATUSES)[number];
