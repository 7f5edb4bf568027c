/**
 * How the tools work plugs into the controller's seams:
 * - hub agent events (hello, tool status, command results…) → the environment's `tools` key
 *   (and, for connects and hellos, its `environment` key);
 * - API spec changes → the same keys, by NOTIFY (the leader, on any replica, enqueues them);
 * - the hub's `SecretResolver` → the secret store: a tool instance's `secret_refs` (env var
 *   → the agent's secret name), for that instance's own environment only;
 * - the lifecycle's `beforeDelete` → stop commands, waited for (bounded).
 */
import { type BeforeDelete, stopEnvironmentTools, TOOLS_KIND } from '@toolbelt/reconcilers';
import { type Db, getEnvironment, getEnvironmentByAgent, getToolInstance, notifySpecChange } from '@toolbelt/schema';
import { Counter, type Registry } from 'prom-client';
import type { SecretStore } from '../api/secrets.ts';
import type { AgentEvent, SecretResolver } from '../hub/index.ts';
import type { Logger } from '../logger.ts';
import type { EnqueueOptions, KeySink } from '../loop/runner.ts';

export const ENVIRONMENT_KIND = 'environment';

export interface ToolsWiringOptions {
  db: Db;
  logger: Logger;
  secrets: SecretStore | undefined;
  /** How long each tool gets to stop before its droplet is deleted (default 10 s). */
  stopTimeoutMs?: number;
  /** Where `toolbelt_secret_resolve_failures_total` is registered (alert: SecretUnwrapFailures). */
  registry?: Registry;
}

/** Agent events after which the environment reconciler looks again too. */
const ENVIRONMENT_EVENTS = new Set<AgentEvent['kind']>(['connected', 'hello', 'disconnected', 'revoked']);

export class ToolsWiring implements KeySink {
  readonly #o: ToolsWiringOptions;
  #sink: KeySink | undefined;
  /** Environment id → agent id (stable for a row's life). */
  readonly #agentOf = new Map<string, string>();

  readonly #resolveFailures: Counter;

  constructor(options: ToolsWiringOptions) {
    this.#o = options;
    this.#resolveFailures = new Counter({
      name: 'toolbelt_secret_resolve_failures_total',
      help: 'Secret deliveries that failed: a value that could not be unwrapped (wrong or missing master key) or read from Vault',
      registers: options.registry ? [options.registry] : [],
    });
  }

  /** Gives the wiring the loop's runner once it exists. */
  bindSink(sink: KeySink): void {
    this.#sink = sink;
  }

  enqueue(kind: string, key: string, options?: EnqueueOptions): boolean {
    return this.#sink?.enqueue(kind, key, options) ?? false;
  }

  hasKind(kind: string): boolean {
    return this.#sink?.hasKind(kind) ?? false;
  }

  async #agentIdOf(environmentId: string): Promise<string | undefined> {
    let agentId = this.#agentOf.get(environmentId);
    if (agentId === undefined) {
      agentId = (await getEnvironment(this.#o.db, environmentId))?.agent_id;
      if (agentId !== undefined) this.#agentOf.set(environmentId, agentId);
    }
    return agentId;
  }

  /** The hub's `onAgentEvent`: never throws, never blocks. */
  readonly onAgentEvent = (event: AgentEvent): void => {
    this.enqueue(TOOLS_KIND, event.environmentId, { source: 'agent' });
    if (!ENVIRONMENT_EVENTS.has(event.kind)) return;
    this.#agentIdOf(event.environmentId)
      .then((agentId) => agentId !== undefined && this.enqueue(ENVIRONMENT_KIND, agentId, { source: 'agent' }))
      .catch((error: unknown) => this.#o.logger.warn({ err: error, environmentId: event.environmentId }, 'could not map an agent event to its agent'));
  };

  async #specChange(kind: string, key: string): Promise<void> {
    const { db } = this.#o;
    const targets: { kind: string; key: string }[] = [];
    if (kind === 'tool') {
      const tool = await getToolInstance(db, key);
      if (tool) targets.push({ kind: TOOLS_KIND, key: tool.agent_droplet_id });
    } else if (kind === 'environment' || kind === 'environment-tools') {
      if (kind === 'environment') targets.push({ kind: ENVIRONMENT_KIND, key });
      const environment = await getEnvironmentByAgent(db, key);
      if (environment) targets.push({ kind: TOOLS_KIND, key: environment.id });
    }
    // By NOTIFY: the leader's spec-change source enqueues them, on this replica or another.
    for (const target of targets) await notifySpecChange(db, target);
  }

  /**
   * The secret store the API writes through: after a put or a remove, the agent's tools are
   * reconciled (a new version is delivered again; a missing one is reported).
   */
  watchSecrets(store: SecretStore): SecretStore {
    const changed = (agentId: string) => this.#specChange('environment-tools', agentId).catch(() => {});
    return {
      backend: store.backend,
      list: (agentId) => store.list(agentId),
      resolve: (agentId, names) => store.resolve(agentId, names),
      put: async (agentId, name, value) => {
        const stored = await store.put(agentId, name, value);
        void changed(agentId);
        return stored;
      },
      remove: async (agentId, name) => {
        const removed = await store.remove(agentId, name);
        void changed(agentId);
        return removed;
      },
    };
  }

  /** The API's `onSpecChange` (`tool` by tool instance id, `environment` by agent id). */
  readonly onSpecChange = (kind: string, key: string): void => {
    this.#specChange(kind, key).catch((error: unknown) => this.#o.logger.warn({ err: error, kind, key }, 'could not pass on a spec change'));
  };

  /**
   * The hub's secret resolver. WARNING: returns values; nothing here logs them. Only the
   * variables the tool instance binds are answered, from its own agent's secrets.
   */
  readonly resolveSecrets: SecretResolver = async (environmentId, toolInstanceId, names) => {
    const { db, secrets } = this.#o;
    if (!secrets) return {};
    const tool = await getToolInstance(db, toolInstanceId);
    if (!tool || tool.agent_droplet_id !== environmentId) return {};
    const agentId = await this.#agentIdOf(environmentId);
    if (agentId === undefined) return {};
    const bound = names.filter((name) => tool.secret_refs[name] !== undefined);
    const { values } = await secrets.resolve(agentId, [...new Set(bound.map((name) => tool.secret_refs[name]!))]).catch((error: unknown) => {
      this.#resolveFailures.inc();
      throw error;
    });
    const answer: Record<string, string> = {};
    for (const name of bound) {
      const value = values[tool.secret_refs[name]!];
      if (value !== undefined) answer[name] = value;
    }
    return answer;
  };

  /** The lifecycle's `beforeDelete`: stops the environment's tools and waits for the answers. */
  readonly beforeDelete: BeforeDelete = async (env, signal) => {
    const result = await stopEnvironmentTools(this.#o.db, env.environmentId, { signal, stopTimeoutMs: this.#o.stopTimeoutMs ?? 10_000 });
    if (result.asked > 0) this.#o.logger.info({ environmentId: env.environmentId, ...result }, 'stopped tools before deleting the droplet');
  };
}
