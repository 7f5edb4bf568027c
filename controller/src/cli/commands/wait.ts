/**
 * `--wait`: watches agents until their environments and tools are Ready (or a timeout),
 * printing each transition as it is seen. Ready means the controller observed the current
 * generation and reports the `Ready` condition True (a switched-off environment is ready
 * once it is gone or was never made; a stopped tool once it is stopped).
 */
import { CliError, type CommandContext, usageError } from '../context.ts';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Watched {
  status: string;
  generation: number;
  observed_generation: number;
  conditions: Condition[];
}
interface AgentAnswer {
  name: string;
  tool_environment_active: boolean;
  environment: (Watched & { active: boolean }) | null;
  deletion_requested_at: string | null;
}
interface ToolAnswer extends Watched {
  instance_name: string;
  desired_state: string;
  deletion_requested_at: string | null;
}

const POLL_MS = 1_000;

/** `90s`, `5m`, `1h` or plain seconds → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw usageError(`--timeout ${text}: expected a duration such as 90s, 5m or 1h`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

const ready = (c: Condition[]) => c.find((x) => x.type === 'Ready');
const observed = (w: Watched) => w.observed_generation >= w.generation;

function environmentReady(agent: AgentAnswer): boolean {
  const env = agent.environment;
  if (!env) return !agent.tool_environment_active;
  if (!agent.tool_environment_active) return observed(env) && ['deleted', 'pending'].includes(env.status);
  return observed(env) && ready(env.conditions)?.status === 'True';
}

function toolReady(tool: ToolAnswer): boolean {
  if (tool.deletion_requested_at) return false;
  if (!observed(tool)) return false;
  if (tool.desired_state === 'stopped') return tool.status === 'stopped';
  return ready(tool.conditions)?.status === 'True';
}

function describe(w: Watched): string {
  const c = ready(w.conditions);
  return c ? `${w.status} (Ready=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''})` : w.status;
}

async function snapshot(ctx: CommandContext, name: string): Promise<{ lines: Map<string, string>; done: boolean }> {
  const client = ctx.client();
  const path = `/v1/agents/${encodeURIComponent(name)}`;
  const agent = await client.request<AgentAnswer>('GET', path, { signal: ctx.signal });
  const tools = (await client.request<{ items: ToolAnswer[] }>('GET', `${path}/tools?limit=500`, { signal: ctx.signal })).items;
  const lines = new Map<string, string>();
  lines.set(`agent/${name} environment`, agent.environment ? describe(agent.environment) : 'none');
  for (const tool of tools) lines.set(`tool/${name}/${tool.instance_name}`, describe(tool));
  const done = environmentReady(agent) && tools.every(toolReady);
  return { lines, done };
}

/** Polls until every named agent is ready, printing transitions; throws on timeout. */
export async function waitUntilReady(ctx: CommandContext, agents: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const last = new Map<string, string>();
  const pending = new Set(agents);
  ctx.print(`waiting up to ${Math.round(timeoutMs / 1000)}s for ${agents.map((a) => `agent/${a}`).join(', ')} to be Ready`);
  while (pending.size > 0) {
    for (const name of [...pending]) {
      const { lines, done } = await snapshot(ctx, name);
      for (const [key, value] of lines) {
        if (last.get(key) !== value) ctx.print(`${key}: ${last.has(key) ? `${last.get(key)} → ` : ''}${value}`);
        last.set(key, value);
      }
      if (done) {
        ctx.print(`agent/${name} is Ready`);
        pending.delete(name);
      }
    }
    if (pending.size === 0) return;
    if (Date.now() >= deadline) {
      throw new CliError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${[...pending].join(', ')}`, 1, [
        `hint: see why with \`toolbelt describe agent ${[...pending][0]}\``,
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}
