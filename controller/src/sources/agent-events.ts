/**
 * Agent messages as keys: every hub event about an environment (hello, tool status, command
 * results…) enqueues its `tools` key, and the events about the agent's connection (connected,
 * hello, disconnected, revoked) its `environment` key too — the agent id the hub learnt at
 * the upgrade. Registered on the runner; the hub calls `onAgentEvent`.
 *
 * On a follower (the runner is stopped, so it drops the keys) they are forwarded to the
 * leader instead: NOTIFY on `AGENT_EVENTS_CHANNEL`, which the leader's `agent-forwarded`
 * source enqueues — the leader reacts as fast wherever the agent's socket landed. Keys of one
 * tick are sent together, each once.
 */
import { ENVIRONMENT_KIND, type SpecChange, TOOLS_KIND } from '@toolbelt/schema';
import type { Component } from '../component.ts';
import type { AgentEvent } from '../hub/index.ts';
import type { Logger } from '../logger.ts';
import type { KeySink } from '../loop/runner.ts';

/** Agent events after which the environment reconciler looks again too. */
const ENVIRONMENT_EVENTS = new Set<AgentEvent['kind']>(['connected', 'hello', 'disconnected', 'revoked']);

export interface AgentEventSourceOptions {
  sink: KeySink;
  /** Sends keys this replica could not enqueue to the leader (see `forwardAgentEvents`). */
  forward?: (changes: SpecChange[]) => Promise<void>;
  logger?: Logger;
}

export class AgentEventSource implements Component {
  readonly name = 'agent-events';
  readonly needsLeadership = true;
  readonly #o: AgentEventSourceOptions;
  /** `kind:key` → the key, waiting for this tick's forward. */
  readonly #unsent = new Map<string, SpecChange>();
  #flush: Promise<void> | undefined;

  constructor(options: AgentEventSourceOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  /** The hub's `onAgentEvent`: never throws, never blocks. */
  readonly onAgentEvent = (event: AgentEvent): void => {
    this.#put(TOOLS_KIND, event.environmentId);
    if (event.agentId !== undefined && ENVIRONMENT_EVENTS.has(event.kind)) this.#put(ENVIRONMENT_KIND, event.agentId);
  };

  /** Resolves once every key forwarded so far was sent (tests, shutdown). */
  async flushed(): Promise<void> {
    while (this.#flush) await this.#flush;
  }

  #put(kind: string, key: string): void {
    if (!this.#o.sink.hasKind(kind)) return;
    if (this.#o.sink.enqueue(kind, key, { source: 'agent' }) || !this.#o.forward) return;
    this.#unsent.set(`${kind}:${key}`, { kind, key });
    this.#flush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#send());
  }

  async #send(): Promise<void> {
    const changes = [...this.#unsent.values()];
    this.#unsent.clear();
    try {
      await this.#o.forward!(changes);
    } catch (error) {
      // The leader's next resync covers them.
      this.#o.logger?.warn({ err: error, keys: changes.length }, 'could not forward agent events to the leader');
    } finally {
      this.#flush = undefined;
      if (this.#unsent.size > 0) this.#flush = this.#send();
    }
  }
}
