/**
 * One agent's socket: who it is (from its credential, never from what it says), the flood
 * limits of its receive path, and ordered, one-at-a-time handling of its messages.
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
} from '@toolbelt/schema/protocol';
import { WebSocket } from 'ws';
import type { Logger } from '../logger.ts';

/** Who a socket speaks for, established at the upgrade. */
export interface AgentIdentity {
  environmentId: string;
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
  #invalidFrames = 0;
  #closing = false;
  #chain: Promise<void> = Promise.resolve();
  readonly #bucket: TokenBucket;

  constructor(
    readonly socket: WebSocket,
    identity: AgentIdentity,
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      limits: ConnectionLimits;
      handle: MessageHandler;
      /** Takes a message out of the ordered chain (gateway answers must not wait for database writes). */
      intercept?: (connection: AgentConnection, message: AgentMessage) => boolean;
    },
  ) {
    this.identity = identity;
    this.connectedAt = deps.clock.now();
    this.#bucket = new TokenBucket({ perSecond: deps.limits.messagesPerSecond, burst: deps.limits.burst, clock: deps.clock });
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
    if (!this.#bucket.take()) {
      this.sendError(AGENT_ERROR_CODES.rateLimited, 'too many messages; slow down and reconnect after a backoff');
      this.close(CLOSE_CODES.rateLimited, 'rate limited');
      return;
    }
    const parsed = parseAgentMessage(raw);
    if (!parsed.ok) {
      this.#refuseFrame(parsed.code, parsed.detail);
      return;
    }
    const message = parsed.message;
    if (this.deps.intercept?.(this, message)) return;
    this.#chain = this.#chain.then(() =>
      this.deps.handle(this, message).catch((error: unknown) => {
        this.deps.logger.error({ err: error, environmentId: this.environmentId, type: message.type }, 'agent message handling failed');
        this.sendError(AGENT_ERROR_CODES.internal, `the controller could not handle this ${message.type}; it will be retried by the next reconcile`);
      }),
    );
  }

  #refuseFrame(code: AgentErrorCode, detail: string): void {
    this.#invalidFrames += 1;
    this.deps.logger.debug({ environmentId: this.environmentId, code, detail }, 'invalid frame from agent');
    this.sendError(code, detail);
    const closeCode = closeCodeFor(code);
    if (closeCode !== undefined) this.close(closeCode, code);
    else if (this.#invalidFrames > this.deps.limits.maxInvalidFrames) {
      this.close(CLOSE_CODES.protocolError, `more than ${this.deps.limits.maxInvalidFrames} invalid frames`);
    }
  }
}
