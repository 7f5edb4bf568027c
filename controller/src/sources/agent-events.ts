/**
 * Agent messages as keys: every hub event about an environment (hello, tool status, command
 * results…) enqueues its `tools` key, and the events about the agent's connection (connected,
 * hello, disconnected, revoked) its `environment` key too — the agent id the hub learnt at
 * the upgrade. Registered on the runner; the hub calls `onAgentEvent`. While the runner is
 * stopped (this replica does not lead) the keys are dropped: the leader's next resync covers
 * them.
 */
import { ENVIRONMENT_KIND, TOOLS_KIND } from '@toolbelt/schema';
import type { Component } from '../component.ts';
import type { AgentEvent } from '../hub/index.ts';
import type { KeySink } from '../loop/runner.ts';

/** Agent events after which the environment reconciler looks again too. */
const ENVIRONMENT_EVENTS = new Set<AgentEvent['kind']>(['connected', 'hello', 'disconnected', 'revoked']);

export class AgentEventSource implements Component {
  readonly name = 'agent-events';
  readonly needsLeadership = true;
  readonly #sink: KeySink;

  constructor(sink: KeySink) {
    this.#sink = sink;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  /** The hub's `onAgentEvent`: never throws, never blocks. */
  readonly onAgentEvent = (event: AgentEvent): void => {
    if (this.#sink.hasKind(TOOLS_KIND)) this.#sink.enqueue(TOOLS_KIND, event.environmentId, { source: 'agent' });
    if (event.agentId !== undefined && ENVIRONMENT_EVENTS.has(event.kind) && this.#sink.hasKind(ENVIRONMENT_KIND)) {
      this.#sink.enqueue(ENVIRONMENT_KIND, event.agentId, { source: 'agent' });
    }
  };
}
