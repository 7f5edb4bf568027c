/**
 * `toolbelt describe agent NAME` / `describe tool AGENT/NAME`: spec, status, conditions,
 * tools and the recent events of everything involved — what an operator reads first.
 */
import { type CommandContext, usageError } from '../context.ts';
import { age, type EventRow, printStructured } from '../output.ts';

const USAGE = 'toolbelt describe agent NAME | toolbelt describe tool AGENT/NAME';
const enc = encodeURIComponent;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}
type Row = Record<string, unknown>;

function printConditions(ctx: CommandContext, conditions: Condition[] | undefined, indent = '  '): void {
  if (!conditions?.length) return ctx.print(`${indent}(no conditions reported yet)`);
  for (const c of conditions) ctx.print(`${indent}${c.type}=${c.status}  ${c.reason}  ${c.message}  (${age(c.lastTransitionTime)} ago)`);
}

function printEvents(ctx: CommandContext, events: EventRow[]): void {
  ctx.print('Events:');
  if (events.length === 0) return ctx.print('  (none)');
  for (const e of events) {
    const times = e.count > 1 ? ` (x${e.count})` : '';
    ctx.print(`  ${age(e.last_seen).padStart(4)}  ${e.type.padEnd(7)}  ${e.reason}  ${e.object.kind}/${e.object.id.slice(0, 8)}: ${e.message}${times}`);
  }
}

async function eventsFor(ctx: CommandContext, ids: string[]): Promise<EventRow[]> {
  const query = ids.map((id) => `object=${enc(id)}`).join('&');
  return (await ctx.client().request<{ items: EventRow[] }>('GET', `/v1/events?${query}&limit=20`)).items;
}

function printTool(ctx: CommandContext, t: Row, indent: string): void {
  ctx.print(`${indent}${t.instance_name}  (${t.tool_name} ${t.version})  desired ${t.deletion_requested_at ? 'removed' : t.desired_state}, status ${t.status}, generation ${t.generation}/${t.observed_generation} observed`);
  if (t.last_error) ctx.print(`${indent}  last error: ${t.last_error}`);
  if (Array.isArray(t.allowed_tools)) ctx.print(`${indent}  gateway offers only: ${t.allowed_tools.join(', ') || '(nothing)'}`);
  if (Array.isArray(t.denied_tools) && t.denied_tools.length > 0) ctx.print(`${indent}  gateway hides: ${t.denied_tools.join(', ')}`);
  const endpoints = (t.endpoints as { host: string; port: number; path: string }[]) ?? [];
  for (const e of endpoints) ctx.print(`${indent}  endpoint: ${e.host}:${e.port}${e.path}`);
  printConditions(ctx, t.conditions as Condition[], `${indent}  `);
}

function printAgentHeader(ctx: CommandContext, agent: Row): void {
  ctx.print(`Name:         ${agent.name}`);
  if (agent.external_id) ctx.print(`External ID:  ${agent.external_id}`);
  ctx.print(`ID:           ${agent.id}`);
  ctx.print(`Description:  ${agent.description || '-'}`);
  ctx.print(`Generation:   ${agent.generation}${agent.deletion_requested_at ? `  (being deleted since ${agent.deletion_requested_at})` : ''}`);
}

interface GitSource {
  kind: string;
  name: string;
  repo: string;
  file: string;
  commit: string;
  status: string;
  drift: string[];
}

/** The agent's manifests that came from git (Agent, Toolbelt), when GitOps is on. */
async function gitSourcesOf(ctx: CommandContext, agentName: string): Promise<GitSource[]> {
  const gitops = await ctx.client().request<{ enabled: boolean; objects?: GitSource[] }>('GET', '/v1/gitops');
  return (gitops.objects ?? []).filter((o) => o.name === agentName && (o.kind === 'Agent' || o.kind === 'Toolbelt'));
}

function printSources(ctx: CommandContext, sources: GitSource[]): void {
  for (const o of sources) {
    const drift = o.status === 'OutOfSync' ? `  OutOfSync: ${o.drift.join('; ') || 'changed since'}` : '  Synced';
    ctx.print(`Source:       ${o.kind} from ${o.repo} ${o.file} @ ${o.commit.slice(0, 12)}${drift}`);
  }
}

async function describeAgent(ctx: CommandContext, name: string): Promise<void> {
  const agent = await ctx.client().request<Row>('GET', `/v1/agents/${enc(name)}`);
  const tools = (await ctx.client().request<{ items: Row[] }>('GET', `/v1/agents/${enc(name)}/tools?limit=500`)).items;
  const env = agent.environment as Row | null;
  const events = await eventsFor(ctx, [agent.id as string, ...(env ? [env.id as string] : []), ...tools.map((t) => t.id as string)]);
  const sources = await gitSourcesOf(ctx, agent.name as string);
  if (printStructured(ctx, { agent, tools, events, ...(sources.length ? { sources } : {}) })) return;
  printAgentHeader(ctx, agent);
  printSources(ctx, sources);
  ctx.print('Environment:');
  if (!env) ctx.print('  (none: switch it on with `toolbelt env enable ' + String(agent.name) + '`)');
  else {
    ctx.print(`  Spec:    active=${agent.tool_environment_active} region=${env.region} size=${env.size} image=${env.image}`);
    ctx.print(`  Status:  ${env.status}, droplet ${env.droplet_id ?? '-'}, ip ${env.ip_address ?? '-'}, generation ${env.generation}/${env.observed_generation} observed`);
    ctx.print(`  Agent:   version ${env.agent_version ?? '-'}, last heartbeat ${env.last_heartbeat_at ? `${age(env.last_heartbeat_at as string)} ago` : 'never'}`);
    if (Number(env.boot_failures) > 0) ctx.print(`  Boot:    ${env.boot_failures} droplet(s) in a row never brought up the agent (\`toolbelt env retry ${String(agent.name)}\` starts over)`);
    printConditions(ctx, env.conditions as Condition[], '  ');
  }
  ctx.print(`Tools:${tools.length ? '' : ' (none)'}`);
  for (const t of tools) printTool(ctx, t, '  ');
  printEvents(ctx, events);
}

async function describeTool(ctx: CommandContext, ref: string): Promise<void> {
  const [agent, tool] = ref.split('/');
  if (!agent || !tool) throw usageError('describe tool needs AGENT/NAME', USAGE);
  const t = await ctx.client().request<Row>('GET', `/v1/agents/${enc(agent)}/tools/${enc(tool)}`);
  const events = await eventsFor(ctx, [t.id as string]);
  if (printStructured(ctx, { tool: t, events })) return;
  ctx.print(`Agent:  ${agent}`);
  printTool(ctx, t, '');
  ctx.print(`Config: ${JSON.stringify(t.config_details)}`);
  ctx.print(`Secret references: ${Object.entries(t.secret_refs as Record<string, string>).map(([k, v]) => `${k}←${v}`).join(', ') || '-'}`);
  printEvents(ctx, events);
}

export async function describeCommand(ctx: CommandContext): Promise<void> {
  const [kind, name, ...extra] = ctx.args;
  if (!kind || !name || extra.length > 0) throw usageError('describe what?', USAGE);
  if (kind === 'agent' || kind === 'agents') return describeAgent(ctx, name);
  if (kind === 'tool' || kind === 'tools') return describeTool(ctx, name);
  throw usageError(`cannot describe "${kind}"`, USAGE);
}
