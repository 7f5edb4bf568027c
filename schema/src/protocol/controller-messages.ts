/**
 * Messages the controller sends to a droplet agent.
 */
import { z } from 'zod';
import { AGENT_ERROR_CODES } from './constants.ts';
import { logsFollowMessageSchema, logsStopMessageSchema, mcpCallMessageSchema, mcpCancelMessageSchema } from './gateway.ts';
import { toolSpecSchema, wireIdSchema } from './tool.ts';

const v = z.number().int().positive();
const errorCode = z.enum(Object.values(AGENT_ERROR_CODES) as [string, ...string[]]);
const credential = z.string().min(16).max(512);

/** Sent after the upgrade is accepted: who the controller thinks the agent is, and pacing. */
export const welcomeMessageSchema = z.object({
  type: z.literal('welcome'),
  v,
  environmentId: wireIdSchema,
  heartbeatIntervalMs: z.number().int().min(1000).max(300_000),
  serverTime: z.string(),
});

/**
 * Answer to a connection made with the enrollment token: the per-droplet credential the
 * agent stores (0600) and uses from now on. The enrollment token is spent.
 */
export const enrolledMessageSchema = z.object({
  type: z.literal('enrolled'),
  v,
  environmentId: wireIdSchema,
  credentialId: wireIdSchema,
  credential,
});

/** A new credential replacing the current one; the agent answers `credential_ack`. */
export const rotateCredentialMessageSchema = z.object({
  type: z.literal('rotate_credential'),
  v,
  credentialId: wireIdSchema,
  credential,
});

const commandBase = {
  type: z.literal('command'),
  v,
  commandId: wireIdSchema,
};
const toolCommandBase = {
  ...commandBase,
  toolInstanceId: wireIdSchema,
  /** The tool instance's spec generation this command was computed from. */
  generation: z.number().int().nonnegative(),
};

/** Commands; each is idempotent by (commandId) and by (toolInstanceId, generation). */
export const commandMessageSchema = z.discriminatedUnion('commandType', [
  z.object({ ...toolCommandBase, commandType: z.literal('install'), payload: z.object({ tool: toolSpecSchema }) }),
  z.object({ ...toolCommandBase, commandType: z.literal('configure'), payload: z.object({ tool: toolSpecSchema }) }),
  z.object({ ...toolCommandBase, commandType: z.literal('start'), payload: z.object({}).default({}) }),
  z.object({
    ...toolCommandBase,
    commandType: z.literal('stop'),
    payload: z.object({ timeoutMs: z.number().int().min(0).max(600_000).optional() }).default({}),
  }),
  z.object({
    ...toolCommandBase,
    commandType: z.literal('uninstall'),
    payload: z.object({ timeoutMs: z.number().int().min(0).max(600_000).optional() }).default({}),
  }),
  z.object({
    ...toolCommandBase,
    commandType: z.literal('get_logs'),
    payload: z.object({ tail: z.number().int().min(1).max(10_000).default(200) }).default({ tail: 200 }),
  }),
  z.object({
    ...commandBase,
    commandType: z.literal('update_agent'),
    /**
     * The release to move to, as user_data pins one: its version, where the controller serves
     * it (`/agent/v1/releases/VERSION/agent.mjs`) and its SHA-256. The agent installs nothing
     * whose hash differs.
     */
    payload: z.object({
      version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/, 'must be a version'),
      url: z
        .string()
        .max(2048)
        .url()
        .refine((u) => /^https?:\/\//.test(u), { message: 'must be an http(s) URL' }),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex'),
      /** How long the new release has to say hello before the droplet rolls it back (default 2 min). */
      helloGraceMs: z.number().int().min(1000).max(1_800_000).optional(),
    }),
  }),
]);
export type CommandMessage = z.infer<typeof commandMessageSchema>;
export type CommandType = CommandMessage['commandType'];
/** A command of one type. */
export type CommandOf<T extends CommandType> = Extract<CommandMessage, { commandType: T }>;
/** A command that concerns one tool instance. */
export type ToolCommand = Exclude<CommandMessage, { commandType: 'update_agent' }>;

/** The values of the secrets a `secret_request` asked for, or why not. */
export const secretResponseMessageSchema = z.object({
  type: z.literal('secret_response'),
  v,
  requestId: wireIdSchema,
  toolInstanceId: wireIdSchema,
  /** Name → value. WARNING: never log this message. */
  values: z.record(z.string(), z.string().max(65_536)).optional(),
  error: z.object({ code: errorCode, reason: z.string().max(4096) }).optional(),
});

/** Asks the agent to send its full inventory again. */
export const requestInventoryMessageSchema = z.object({
  type: z.literal('request_inventory'),
  v,
  requestId: wireIdSchema.optional(),
});

/** The controller could not use a message from the agent. */
export const controllerErrorMessageSchema = z.object({
  type: z.literal('error'),
  v,
  code: errorCode,
  detail: z.string().max(4096),
  inReplyTo: z.string().max(128).optional(),
});

/** Every message a controller may send. */
export const controllerMessageSchema = z.discriminatedUnion('type', [
  welcomeMessageSchema,
  enrolledMessageSchema,
  rotateCredentialMessageSchema,
  commandMessageSchema,
  secretResponseMessageSchema,
  requestInventoryMessageSchema,
  controllerErrorMessageSchema,
  mcpCallMessageSchema,
  mcpCancelMessageSchema,
  logsFollowMessageSchema,
  logsStopMessageSchema,
]);
export type ControllerMessage = z.infer<typeof controllerMessageSchema>;
export type ControllerMessageType = ControllerMessage['type'];
/** A controller message of one type. */
export type ControllerMessageOf<T extends ControllerMessageType> = Extract<ControllerMessage, { type: T }>;
