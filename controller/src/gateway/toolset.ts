/**
 * One agent's tools as one MCP server: the running MCP tool instances of its toolbelt,
 * listed by fanning `tools/list` (and prompts, resources) out to each over the agent's
 * socket, renamed `<instance>__<tool>` (names.ts), filtered by each instance's
 * allowed/denied tools; a call is routed to its instance under the tool's own name.
 * Failures come back as JSON-RPC errors a client can act on (gateway codes in the protocol).
 */
import { type Agent, type GatewayTarget, type GatewayTool, getGatewayTarget } from '@toolbelt/schema';
import { GATEWAY_ERROR_CODES, type McpCallBody, type McpReplyBody } from '@toolbelt/schema/protocol';
import type { GatewayDeps } from './deps.ts';
import { assignNames, type NameOrigin, parsePlainName, toolAllowed } from './names.ts';

const MCP_TRANSPORTS = new Set(['mcp-stdio', 'mcp-http']);
const MAX_LIST_PAGES = 10;

/** A JSON-RPC error the gateway answers a client with. */
export class GatewayError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** The kinds of list the gateway aggregates, with the field each answer carries its items in. */
const LISTS = {
  tools: { method: 'tools/list', field: 'tools', named: true },
  prompts: { method: 'prompts/list', field: 'prompts', named: true },
  resources: { method: 'resources/list', field: 'resources', named: false },
  resourceTemplates: { method: 'resources/templates/list', field: 'resourceTemplates', named: false },
} as const;
export type ListKind = keyof typeof LISTS;

type Item = Record<string, unknown> & { name?: string; uri?: string };

export interface CallContext {
  signal?: AbortSignal | undefined;
}

export class Toolset {
  readonly #deps: GatewayDeps;
  readonly agent: Agent;
  #target: GatewayTarget | undefined;

  constructor(deps: GatewayDeps, agent: Agent) {
    this.#deps = deps;
    this.agent = agent;
  }

  async #load(): Promise<GatewayTarget> {
    this.#target ??= await getGatewayTarget(this.#deps.db, this.agent.id);
    return this.#target;
  }

  /** The instances a call may reach now: running MCP tools, not being removed. */
  async #running(): Promise<{ environmentId: string; tools: GatewayTool[] }> {
    const target = await this.#load();
    if (!this.agent.tool_environment_active || !target.environment) {
      throw new GatewayError(GATEWAY_ERROR_CODES.agentUnavailable, `agent "${this.agent.name}"'s tool environment is off`, {
        hint: `switch it on: PUT /v1/agents/${this.agent.name}/environment {"active": true}`,
        since: this.agent.updated_at.toISOString(),
      });
    }
    const tools = target.tools.filter((t) => MCP_TRANSPORTS.has(t.transport) && t.desiredState === 'running' && !t.deleting && t.status === 'running');
    return { environmentId: target.environment.id, tools };
  }

  /** Every item of one list kind across the running instances, renamed and filtered. */
  async list(kind: ListKind, ctx: CallContext): Promise<{ items: Item[]; origins: Map<string, NameOrigin & { item: Item }> }> {
    const { environmentId, tools } = await this.#running();
    const spec = LISTS[kind];
    const perTool = await Promise.all(tools.map((tool) => this.#listOne({ environmentId, tool, ctx }, spec.method, spec.field)));
    const origins: (NameOrigin & { item: Item })[] = [];
    for (const [i, items] of perTool.entries()) {
      const tool = tools[i]!;
      for (const item of items) {
        if (kind === 'tools' && !toolAllowed(String(item.name), this.#filters(tool))) continue;
        origins.push({ instanceName: tool.instanceName, name: String(item.name ?? item.uri ?? ''), item });
      }
    }
    if (!spec.named) return { items: origins.map((o) => o.item), origins: new Map(origins.map((o) => [o.name, o])) };
    const named = assignNames(origins) as Map<string, NameOrigin & { item: Item }>;
    const items = [...named].map(([name, origin]) => ({ ...origin.item, name }));
    return { items, origins: named };
  }

  async #listOne(at: { environmentId: string; tool: GatewayTool; ctx: CallContext }, method: string, field: string): Promise<Item[]> {
    const { environmentId, tool, ctx } = at;
    const items: Item[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
      const reply = await this.#send(environmentId, tool, { method, ...(cursor ? { params: { cursor } } : {}) }, ctx);
      if ('error' in reply) {
        // A tool without prompts or resources answers "method not found": it offers none.
        if (reply.error.code !== -32601) this.#deps.logger.debug({ tool: tool.instanceName, method, error: reply.error }, 'gateway list failed');
        return items;
      }
      const found = reply.result[field];
      if (Array.isArray(found)) items.push(...(found.filter((x) => x && typeof x === 'object') as Item[]));
      cursor = typeof reply.result.nextCursor === 'string' ? reply.result.nextCursor : undefined;
      if (!cursor) break;
    }
    return items;
  }

  /** Calls `tools/call` (or `prompts/get`) of the instance that offers `name`, under its own name. */
  async invoke(kind: 'tools' | 'prompts', name: string, params: Record<string, unknown>, ctx: CallContext) {
    const { environmentId, tools } = await this.#running();
    const origin = await this.#resolve(kind, name, tools, ctx);
    const tool = tools.find((t) => t.instanceName === origin.instanceName)!;
    if (kind === 'tools' && !toolAllowed(origin.name, this.#filters(tool))) {
      throw new GatewayError(GATEWAY_ERROR_CODES.forbidden, `tool "${name}" is filtered out of agent "${this.agent.name}"'s gateway (allowed_tools / denied_tools of "${tool.instanceName}")`, {
        instance: tool.instanceName,
      });
    }
    const method = kind === 'tools' ? 'tools/call' : 'prompts/get';
    return { tool, reply: await this.#send(environmentId, tool, { method, params: { ...params, name: origin.name } }, ctx) };
  }

  /** `resources/read` of the instance that lists `uri`. */
  async read(uri: string, params: Record<string, unknown>, ctx: CallContext) {
    const { environmentId, tools } = await this.#running();
    const { origins } = await this.list('resources', ctx);
    const origin = origins.get(uri);
    const tool = origin && tools.find((t) => t.instanceName === origin.instanceName);
    if (!tool) throw new GatewayError(-32002, `no running tool of agent "${this.agent.name}" lists the resource ${uri}`);
    return { tool, reply: await this.#send(environmentId, tool, { method: 'resources/read', params: { ...params, uri } }, ctx) };
  }

  async #resolve(kind: 'tools' | 'prompts', name: string, tools: GatewayTool[], ctx: CallContext): Promise<NameOrigin> {
    const plain = parsePlainName(name, tools.map((t) => t.instanceName));
    if (plain) return plain;
    const found = (await this.list(kind, ctx)).origins.get(name);
    if (found) return found;
    throw await this.#explainMissing(kind, name);
  }

  #unknown(kind: string, name: string): GatewayError {
    return new GatewayError(-32602, `unknown ${kind === 'tools' ? 'tool' : 'prompt'} "${name}" (list them with ${kind}/list)`);
  }

  /** Why a name resolves to nothing: its instance is not running (say its status and error), or no such name. */
  async #explainMissing(kind: 'tools' | 'prompts', name: string): Promise<GatewayError> {
    const target = await this.#load();
    const owner = target.tools
      .filter((t) => name.startsWith(`${t.instanceName}__`))
      .sort((a, b) => b.instanceName.length - a.instanceName.length)[0];
    if (!owner || owner.status === 'running') return this.#unknown(kind, name);
    const error = owner.lastError ? `; last error: ${owner.lastError}` : '';
    return new GatewayError(GATEWAY_ERROR_CODES.toolUnavailable, `tool instance "${owner.instanceName}" is ${owner.status}, not running${error}`, {
      instance: owner.instanceName,
      status: owner.status,
      desired_state: owner.desiredState,
    });
  }

  #filters(tool: GatewayTool) {
    return { allowed_tools: tool.allowedTools, denied_tools: tool.deniedTools };
  }

  async #send(environmentId: string, tool: GatewayTool, body: McpCallBody, ctx: CallContext): Promise<McpReplyBody> {
    return this.#deps.route(environmentId, tool.id, body, { timeoutMs: this.#deps.callTimeoutMs, signal: ctx.signal });
  }
}
