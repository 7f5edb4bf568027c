/**
 * Secret values arrive only over the socket: the agent sends `secret_request` and the
 * controller answers `secret_response`. Values live in memory, go into the tool's
 * environment and nowhere else (no file, no log, no docker label).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '@toolbelt/schema/clock';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES, type ControllerMessageOf } from '@toolbelt/schema/protocol';
import type { SecretEnv } from './runtimes/types.ts';

interface Pending {
  toolInstanceId: string;
  names: string[];
  resolve: (values: SecretEnv) => void;
  reject: (error: Error) => void;
}

export interface SecretBrokerOptions {
  /** Sends a secret_request; false when there is no connection (it is re-sent on connect). */
  send: (message: { type: 'secret_request'; requestId: string; toolInstanceId: string; names: string[] }) => boolean;
  clock: Clock;
  timeoutMs?: number;
  /** Told every tool's values as they arrive (the agent masks them in what it reports). */
  onValues?: (toolInstanceId: string, values: SecretEnv) => void;
}

export class SecretBroker {
  readonly #pending = new Map<string, Pending>();
  readonly #o: Required<SecretBrokerOptions>;

  constructor(options: SecretBrokerOptions) {
    this.#o = { timeoutMs: 60_000, onValues: () => {}, ...options };
  }

  /** The values of `names` for a tool; rejects with AGENT_ERR_SECRET_UNAVAILABLE. */
  request(toolInstanceId: string, names: string[]): Promise<SecretEnv> {
    if (names.length === 0) return Promise.resolve({});
    const requestId = randomUUID();
    const abort = new AbortController();
    const promise = new Promise<SecretEnv>((resolve, reject) => {
      this.#pending.set(requestId, { toolInstanceId, names, resolve, reject });
    });
    this.#o.send({ type: 'secret_request', requestId, toolInstanceId, names });
    this.#o.clock.sleep(this.#o.timeoutMs, abort.signal).then(
      () => this.#fail(requestId, `no answer within ${this.#o.timeoutMs} ms`),
      () => {},
    );
    return promise.finally(() => abort.abort());
  }

  /** Resolves a pending request from the controller's answer. */
  onResponse(message: ControllerMessageOf<'secret_response'>): void {
    const pending = this.#pending.get(message.requestId);
    if (!pending || pending.toolInstanceId !== message.toolInstanceId) return;
    if (message.error || !message.values) {
      this.#fail(message.requestId, message.error ? `${message.error.code}: ${message.error.reason}` : 'no values');
      return;
    }
    const missing = pending.names.filter((name) => !(name in message.values!));
    if (missing.length > 0) return this.#fail(message.requestId, `the controller did not send ${missing.join(', ')}`);
    this.#pending.delete(message.requestId);
    const values: Record<string, string> = {};
    for (const name of pending.names) values[name] = message.values[name]!;
    this.#o.onValues(pending.toolInstanceId, values);
    pending.resolve(values);
  }

  /** Re-sends requests still waiting (after a reconnect). */
  onConnected(): void {
    for (const [requestId, p] of this.#pending) {
      this.#o.send({ type: 'secret_request', requestId, toolInstanceId: p.toolInstanceId, names: p.names });
    }
  }

  /** Fails every waiting request (shutdown). */
  close(): void {
    for (const requestId of [...this.#pending.keys()]) this.#fail(requestId, 'the agent is shutting down');
  }

  #fail(requestId: string, why: string): void {
    const pending = this.#pending.get(requestId);
    if (!pending) return;
    this.#pending.delete(requestId);
    pending.reject(
      new ToolbeltError(
        AGENT_ERROR_CODES.secretUnavailable,
        `secrets ${pending.names.join(', ')} of tool ${pending.toolInstanceId} are unavailable: ${why}`,
        { hint: 'check that the secrets exist for this agent and that the tool references them' },
      ),
    );
  }
}
