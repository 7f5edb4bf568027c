/**
 * Constants of the droplet agent's wire protocol: version, limits, WebSocket close codes and
 * stable error codes. Both ends import these; neither hard-codes a number of its own.
 */

/** The protocol version this code speaks. Every message carries it as `v`. */
export const PROTOCOL_VERSION = 1;

/** Versions a peer built from this code accepts (a newer controller may accept several). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1];

/** The path of the controller's agent endpoint (`wss://HOST/agent/v1`). */
export const AGENT_WS_PATH = '/agent/v1';

/** Upgrade request header carrying the protocol version the agent speaks. */
export const PROTOCOL_VERSION_HEADER = 'x-toolbelt-protocol';
/** Upgrade request header carrying the agent's own version. */
export const AGENT_VERSION_HEADER = 'x-toolbelt-agent-version';
/**
 * The droplet's name (its hostname, `tb-<environment id>`), sent at every upgrade: a batch
 * enrollment token is bound to several environments, and this says which one is enrolling.
 */
export const DROPLET_NAME_HEADER = 'x-toolbelt-droplet-name';

/**
 * Largest WebSocket frame either end sends or accepts (`ws`' `maxPayload`). A larger frame
 * closes the socket with 1009 (the `ws` library's own code for "message too big").
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** How often an agent sends a heartbeat unless the controller's `welcome` says otherwise. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;

/** Largest number of log lines one `logs` message carries. */
export const MAX_LOG_LINES_PER_MESSAGE = 1000;

/** Largest length of one log line (longer lines are cut and marked `truncated`). */
export const MAX_LOG_LINE_CHARS = 8192;

/**
 * WebSocket close codes (the 4000–4999 range is for applications). A peer closing for one
 * of these reasons uses exactly this code, so the other end can react without parsing text.
 */
export const CLOSE_CODES = {
  /** Normal end: the agent shuts down or the controller drains. Reconnect later. */
  normal: 1000,
  /** The controller is going away (restart, failover). Reconnect with backoff. */
  goingAway: 1001,
  /** A frame larger than MAX_FRAME_BYTES (set by `ws` itself). */
  messageTooBig: 1009,
  /** No or unknown credential at the upgrade. The agent must not retry the same credential fast. */
  unauthorized: 4001,
  /** The peer broke the protocol too often (invalid frames, wrong order). */
  protocolError: 4002,
  /** The protocol version is not supported by the other end. Update the agent. */
  versionUnsupported: 4003,
  /** The credential was revoked (droplet de-provisioned). The agent must stop reconnecting. */
  revoked: 4004,
  /** Too many messages: the peer flooded the socket. Reconnect after backoff. */
  rateLimited: 4008,
  /** A newer connection of the same droplet replaced this one. Do not reconnect this socket. */
  replaced: 4009,
  /**
   * The peer sent more than the receiver may queue unhandled (BACKLOG_LIMITS: messages or
   * bytes). Reconnect after a backoff; the receiver dropped what was queued.
   */
  backlog: 4010,
} as const;
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/**
 * Stable error codes, carried in `error` messages, failed command results and secret
 * responses. Never renamed: logs, alerts and the other end match on them.
 */
export const AGENT_ERROR_CODES = {
  /** The frame was not valid JSON (or not text). */
  invalidJson: 'AGENT_ERR_INVALID_JSON',
  /** The frame was JSON but not a valid message (missing or wrongly typed fields). */
  invalidMessage: 'AGENT_ERR_INVALID_MESSAGE',
  /** The message `type` is not one this version knows. */
  unknownType: 'AGENT_ERR_UNKNOWN_TYPE',
  /** The message's `v` is not a supported protocol version. */
  versionUnsupported: 'AGENT_ERR_VERSION_UNSUPPORTED',
  /** The frame is larger than MAX_FRAME_BYTES. */
  frameTooLarge: 'AGENT_ERR_FRAME_TOO_LARGE',
  /** Too many messages in too short a time. */
  rateLimited: 'AGENT_ERR_RATE_LIMITED',
  /** Missing, unknown or expired credential. */
  unauthorized: 'AGENT_ERR_UNAUTHORIZED',
  /** The credential was revoked. */
  revoked: 'AGENT_ERR_REVOKED',
  /** The command names a tool instance the agent does not have. */
  unknownTool: 'AGENT_ERR_UNKNOWN_TOOL',
  /** The command's generation is older than the one the agent already applied. */
  staleGeneration: 'AGENT_ERR_STALE_GENERATION',
  /** The command is for a newer generation than the agent has: send `configure` first. */
  generationAhead: 'AGENT_ERR_GENERATION_AHEAD',
  /** The command needs a runtime this droplet does not have (e.g. no container engine). */
  runtimeUnavailable: 'AGENT_ERR_RUNTIME_UNAVAILABLE',
  /** Pulling the image or installing the package failed. */
  installFailed: 'AGENT_ERR_INSTALL_FAILED',
  /** The tool would not start or stay up. */
  startFailed: 'AGENT_ERR_START_FAILED',
  /** Stopping or removing the tool failed. */
  stopFailed: 'AGENT_ERR_STOP_FAILED',
  /** A secret the tool needs could not be had (denied, missing, or timed out). */
  secretUnavailable: 'AGENT_ERR_SECRET_UNAVAILABLE',
  /** Self-update failed; the agent keeps running its current version. */
  updateFailed: 'AGENT_ERR_UPDATE_FAILED',
  /** The agent is shutting down and takes no more commands. */
  shuttingDown: 'AGENT_ERR_SHUTTING_DOWN',
  /** Anything else; `detail` says what. */
  internal: 'AGENT_ERR_INTERNAL',
} as const;
export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[keyof typeof AGENT_ERROR_CODES];
