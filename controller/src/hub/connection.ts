/**
 * One agent's socket: who it is (from its credential, never from what it says), the flood
 * limits of its receive path (messages and bytes per second), and ordered, one-at-a-time
 * handling of its messages with a bounded backlog: beyond its bound of unhandled
 * messages or bytes the socket is closed with 4010, and an `inventory` still waiting is
 * replaced by a newer one (only the latest inventory matters).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '@toolbelt/schema';
import {
  AGENT_ERROR_CODES,
  type AgentErrorCode,
  type AgentMessage,
  CLOSE_CODES,
  type ControllerMessage,
  type RawFrame,
  TokenBucket,
  type WithoutVersion,
  closeCodeFor,
  encodeMessage,
  parseAgentMessage,
  HUB_RECEIVE_LIMITS,
} from '@toolbelt/schema/protocol';
import { WebSocket } from 'ws';
import type { Logger } from '../logger.ts';

/** Who a socket speaks for, established at the upgrade. */
export interface AgentIdentity {
  environmentId: string;
  /** The agent whose environment it is (the environment reconciler's key). */
  agentId: string;
  /** The agent credential the socket is tied to (the one issued, for an enrollment). */
  credentialId: string;
  credentialIssuedAt: Date;
  /** Set when this connection enrolled: the new credential to hand over in `enrolled`. */
  enrolledCredential?: string | undefined;
}

export interface ConnectionLimits {
  messagesPerSecond: number;
  burst: number;
  maxInvalidFrames: number;
  bytesPerSecond: number;
  burstBytes: number;
  /** Received messages not handled yet, at most (count and frame bytes). */
  maxQueuedMessages: number;
  maxQueuedBytes: number;
}

/** The defaults: the protocol's HUB_RECEIVE_LIMITS. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { ...HUB_RECEIVE_LIMITS };

/** Counters the hub keeps over all its connections. */
export interface ConnectionStats {
  inventoriesCoalesced: number;
  backlogCloses: number;
}

/** Bytes of a frame as received. */
function frameBytes(raw: RawFrame): number {
  if (typeof raw === 'string') return Buffer.byteLength(raw);
  if (Array.isArray(raw)) return (raw as readonly Uint8Array[]).reduce((n, b) => n + b.byteLength, 0);
  return (raw as Uint8Array | ArrayBuffer).byteLength;
}

/** What the connection hands a valid message to; it runs one message at a time per socket. */
export type MessageHandler = (connection: AgentConnection, message: AgentMessage) => Promise<void>;

export class AgentConnection {
  readonly id = randomUUID();
  readonly identity: AgentIdentity;
  readonly connectedAt: number;
  /** Set once the agent's hello has been handled. */
  helloAt: number | undefined;
  agentVersion: string | undefined;
  /** Answered the last ping (or sent anything) since it was sent. */
  alive = true;
  /** Tool instance ids known to belong to this environment (ownership never changes). */
  readonly ownTools = new Set<string>();
  /** Tool instance ids known to belong to another environment (bounded; ownership never changes). */
  readonly foreignTools = new Set<string>();
  /** Reported tool ids the store does not know (orphans), at most MAX_UNKNOWN_TOOLS. */
  readonly unknownTools = new Set<string>();
  /** Isolation violations of this connection (only the first few become events). */
  violations = 0;
  /** `error` messages the agent sent on this connection. */
  agentErrors = 0;
  /** Secret maskers of its tools, briefly kept (hub/masking.ts). WARNING: hold values. */
  readonly maskers = new Map<string, { at: number; mask: (text: string) => string }>();
  #invalidFrames = 0;
  #closing = false;
  /** Closed for abuse (flood, backlog, protocol errors): what it queued is dropped unhandled. */
  #abusive = false;
  #chain: Promise<void> = Promise.resolve();
  readonly #bucket: TokenBucket;
  readonly #bytes: TokenBucket;
  /** Received, not yet handled. */
  readonly #queued = { messages: 0, bytes: 0 };
  /** An inventory waiting its turn; a newer one takes its place. */
  #waitingInventory: { message: AgentMessage; bytes: number } | undefined;
  /** What the socket has cost so far (tests, diagnostics). */
  readonly counts = { received: 0, coalesced: 0, peakQueuedMessages: 0, peakQueuedBytes: 0 };

  constructor(
    readonly socket: WebSocket,
    identity: AgentIdentity,
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      limits: ConnectionLimits;
      handle: MessageHandler;
      stats?: ConnectionStats;
      /** Takes a message out of the ordered chain (gateway answers must not wait for database writes). */
      intercept?: (connection: AgentConnection, message: AgentMessage) => boolean;
    },
  ) {
    this.identity = identity;
    this.connectedAt = deps.clock.now();
    const { limits, clock } = deps;
    this.#bucket = new TokenBucket({ perSecond: limits.messagesPerSecond, burst: limits.burst, clock });
    this.#bytes = new TokenBucket({ perSecond: limits.bytesPerSecond, burst: limits.burstBytes, clock });
    socket.on('message', (data) => this.#receive(data as RawFrame));
    socket.on('pong', () => (this.alive = true));
  }

  get environmentId(): string {
    return this.identity.environmentId;
  }

  get open(): boolean {
    return !this.#closing && this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends a message; false when the socket is no longer open. */
  send(message: WithoutVersion<ControllerMessage>): boolean {
    if (!this.open) return false;
    this.socket.send(encodeMessage(message as ControllerMessage));
    return true;
  }

  /** Tells the agent what was wrong with one of its messages. */
  sendError(code: AgentErrorCode, detail: string, inReplyTo?: string): void {
    this.send({ type: 'error', code, detail: detail.slice(0, 4096), ...(inReplyTo ? { inReplyTo: inReplyTo.slice(0, 128) } : {}) });
  }

  /** Closes with a protocol close code; later frames are ignored. */
  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    // A close reason may carry at most 123 bytes.
    this.socket.close(code, reason.slice(0, 120));
  }

  /** Handles no message before `task` settles (the session row must exist before a hello). */
  after(task: Promise<unknown>): void {
    this.#chain = this.#chain.then(() => task).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Resolves once every message received so far has been handled. */
  idle(): Promise<void> {
    return this.#chain;
  }

  #receive(raw: RawFrame): void {
    if (this.#closing) return;
    this.alive = true;
    const bytes = frameBytes(raw);
    if (!this.#bucket.take() || !this.#bytes.take(bytes)) {
      this.sendError(AGENT_ERROR_CODES.rateLimited, 'too many messages or bytes; slow down and reconnect after a backoff');
      this.#abusive = true;
      this.close(CLOSE_CODES.rateLimited, 'rate limited');
      return;
    }
    const parsed = parseAgentMessage(raw);
    if (!parsed.ok) {
      this.#refuseFrame(parsed.code, parsed.detail);
      return;
    }
    this.counts.received += 1;
    // Gateway answers are settled at once, outside the queue (they must not wait for database writes).
    if (this.deps.intercept?.(this, parsed.message)) return;
    if (parsed.message.type === 'inventory' && this.#waitingInventory) {
      // Only the latest inventory matters: it replaces the one still waiting.
      this.#queued.bytes += bytes - this.#waitingInventory.bytes;
      this.#waitingInventory.message = parsed.message;
      this.#waitingInventory.bytes = bytes;
      this.counts.coalesced += 1;
      if (this.deps.stats) this.deps.stats.inventoriesCoalesced += 1;
      return;
    }
    if (!this.#enqueue(bytes)) return;
    if (parsed.message.type === 'inventory') {
      const waiting = { message: parsed.message, bytes };
      this.#waitingInventory = waiting;
      this.#chain = this.#chain.then(() => {
        if (this.#waitingInventory === waiting) this.#waitingInventory = undefined;
        return this.#handle(waiting.message, waiting.bytes);
      });
      return;
    }
    const message = parsed.message;
    this.#chain = this.#chain.then(() => this.#handle(message, bytes));
  }

  /** Counts a message into the backlog; closes with 4010 (false) when that is more than allowed. */
  #enqueue(bytes: number): boolean {
    const { maxQueuedMessages, maxQueuedBytes } = this.deps.limits;
    if (this.#queued.messages + 1 > maxQueuedMessages || this.#queued.bytes + bytes > maxQueuedBytes) {
      this.deps.logger.warn({ environmentId: this.environmentId, queued: this.#queued }, 'agent queued more work than a socket may; closing it');
      this.sendError(AGENT_ERROR_CODES.rateLimited, `more than ${maxQueuedMessages} messages or ${maxQueuedBytes} bytes wait to be handled; reconnect after a backoff`);
      this.#abusive = true;
      if (this.deps.stats) this.deps.stats.backlogCloses += 1;
      this.close(CLOSE_CODES.backlog, 'backlog exceeded');
      return false;
    }
    this.#queued.messages += 1;
    this.#queued.bytes += bytes;
    this.counts.peakQueuedMessages = Math.max(this.counts.peakQueuedMessages, this.#queued.messages);
    this.counts.peakQueuedBytes = Math.max(this.counts.peakQueuedBytes, this.#queued.bytes);
    return true;
  }

  async #handle(message: AgentMessage, bytes: number): Promise<void> {
    try {
      // An abusive socket's backlog is dropped: nothing it queued is worth the work.
      if (!this.#abusive) await this.deps.handle(this, message);
    } catch (error) {
      this.deps.logger.error({ err: error, environmentId: this.environmentId, type: message.type }, 'agent message handling failed');
      this.sendError(AGENT_ERROR_CODES.internal, `the controller could not handle this ${message.type}; it will be retried by the next reconcile`);
    } finally {
      this.#queued.messages -= 1;
      this.#queued.bytes -= bytes;
    }
  }

  #refuseFrame(code: AgentErrorCode, detail: string): void {
    this.#invalidFrames += 1;
    this.deps.logger.debug({ environmentId: this.environmentId, code, detail }, 'invalid frame from agent');
    this.sendError(code, detail);
    const closeCode = closeCodeFor(code);
    if (closeCode !== undefined) this.close(closeCode, code);
    else if (this.#invalidFrames > this.deps.limits.maxInvalidFrames) {
      this.#abusive = true;
      this.close(CLOSE_CODES.protocolError, `more than ${this.deps.limits.maxInvalidFrames} invalid frames`);
    }
  }
}
