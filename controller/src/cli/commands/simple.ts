/**
 * The small commands: `delete`, `env enable|disable|retry`, `secrets set|list|delete`, `tokens`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CliError, type CommandContext, usageError } from '../context.ts';
import { age, printStructured, printTable } from '../output.ts';

const enc = encodeURIComponent;

function parseOrUsage<T>(usage: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw usageError((error as Error).message, usage);
  }
}

const DELETE_USAGE = 'toolbelt delete agent NAME | tool AGENT/NAME | catalog NAME';

const DELETE_KINDS: Record<string, (ctx: CommandContext, name: string) => Promise<string>> = {
  async agent(ctx, name) {
    const answer = await ctx.client().request<{ name: string } | undefined>('DELETE', `/v1/agents/${enc(name)}`);
    return answer ? `agent/${name} is being deleted (its environment is torn down first)` : `agent/${name} deleted`;
  },
  async catalog(ctx, name) {
    await ctx.client().request('DELETE', `/v1/catalog/${enc(name)}`);
    return `catalogtool/${name} deleted`;
  },
  async tool(ctx, name) {
    const [agent, tool] = name.split('/');
    if (!agent || !tool) throw usageError('delete tool needs AGENT/NAME', DELETE_USAGE);
    await ctx.client().request('DELETE', `/v1/agents/${enc(agent)}/tools/${enc(tool)}`);
    return `tool/${agent}/${tool} is being removed`;
  },
};
const DELETE_ALIASES: Record<string, string> = { agents: 'agent', tools: 'tool', catalogtool: 'catalog' };

export async function deleteCommand(ctx: CommandContext): Promise<void> {
  const [kind, name, ...extra] = ctx.args;
  if (!kind || !name || extra.length) throw usageError('delete what?', DELETE_USAGE);
  const remove = DELETE_KINDS[DELETE_ALIASES[kind] ?? kind];
  if (!remove) throw usageError(`cannot delete "${kind}"`, DELETE_USAGE);
  ctx.print(await remove(ctx, name));
}

const ENV_USAGE = 'toolbelt env enable|disable AGENT [--region nyc3] [--size s-1vcpu-1gb] | retry AGENT';

export async function envCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = parseOrUsage(ENV_USAGE, () =>
    parseArgs({ args: ctx.args, options: { region: { type: 'string' }, size: { type: 'string' } }, allowPositionals: true, strict: true }),
  );
  const [action, agent, ...extra] = positionals;
  if (!agent || extra.length) throw usageError('env enable|disable|retry AGENT', ENV_USAGE);
  if (action === 'retry' && !values.region && !values.size) return envRetry(ctx, agent);
  if (action !== 'enable' && action !== 'disable') throw usageError('env enable|disable AGENT [--region R] [--size S] | retry AGENT', ENV_USAGE);
  return envSwitch(ctx, agent, { active: action === 'enable', region: values.region, size: values.size });
}

/** `env enable|disable AGENT`: the environment switch, with region and size when given. */
async function envSwitch(ctx: CommandContext, agent: string, wanted: { active: boolean; region?: string | undefined; size?: string | undefined }): Promise<void> {
  const body = { active: wanted.active, ...(wanted.region ? { region: wanted.region } : {}), ...(wanted.size ? { size: wanted.size } : {}) };
  const env = await ctx.client().request<Record<string, unknown>>('PUT', `/v1/agents/${enc(agent)}/environment`, { body });
  if (printStructured(ctx, env)) return;
  ctx.print(`agent/${agent} environment ${wanted.active ? 'enabled' : 'disabled'} (${env.region}, ${env.size}; status ${env.status})`);
}

/** `env retry AGENT`: an environment stopped in BootFailed gets droplets again. */
async function envRetry(ctx: CommandContext, agent: string): Promise<void> {
  const env = await ctx.client().request<{ status: string; boot_failures_cleared: number }>('POST', `/v1/agents/${enc(agent)}/environment/retry`);
  if (printStructured(ctx, env)) return;
  const cleared = env.boot_failures_cleared;
  ctx.print(
    cleared > 0
      ? `agent/${agent} environment: ${cleared} boot failure${cleared === 1 ? '' : 's'} cleared; droplets are created again (status ${env.status})`
      : `agent/${agent} environment had no boot failures; nothing to retry (status ${env.status})`,
  );
}

const SECRETS_USAGE = 'toolbelt secrets set NAME --agent AGENT [--from-file FILE] | list --agent AGENT | delete NAME --agent AGENT';

async function readStdin(ctx: CommandContext): Promise<string> {
  if (ctx.stdin.isTTY) ctx.stderr.write('reading the secret value from stdin (end with Ctrl-D)\n');
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function secretsCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = parseOrUsage(SECRETS_USAGE, () =>
    parseArgs({ args: ctx.args, options: { agent: { type: 'string' }, 'from-file': { type: 'string' } }, allowPositionals: true, strict: true }),
  );
  const [action, name, ...extra] = positionals;
  if (!values.agent) throw usageError('secrets needs --agent AGENT', SECRETS_USAGE);
  if (extra.length) throw usageError('a secret value is never taken as an argument (it would show in ps and shell history); pipe it to stdin or use --from-file', SECRETS_USAGE);
  const base = `/v1/agents/${enc(values.agent)}/secrets`;
  if (action === 'list') {
    const { items } = await ctx.client().request<{ items: { name: string; version: number; updated_at: string }[] }>('GET', base);
    if (!printStructured(ctx, items)) printTable(ctx, ['name', 'version', 'updated'], items.map((s) => [s.name, s.version, age(s.updated_at)]));
    return;
  }
  if (!name) throw usageError(`secrets ${action ?? ''} needs NAME`, SECRETS_USAGE);
  if (action === 'delete') {
    await ctx.client().request('DELETE', `${base}/${enc(name)}`);
    return ctx.print(`secret ${name} of agent/${values.agent} deleted`);
  }
  if (action !== 'set') throw usageError(`unknown secrets action "${action}"`, SECRETS_USAGE);
  const raw = values['from-file'] ? readFileSync(values['from-file'], 'utf8') : await readStdin(ctx);
  // One trailing newline (from echo or an editor) is not part of the value.
  const value = raw.replace(/\r?\n$/, '');
  if (!value) throw new CliError('the secret value is empty; nothing was stored');
  await ctx.client().request('PUT', `${base}/${enc(name)}`, { body: { value } });
  ctx.print(`secret ${name} of agent/${values.agent} set`);
}

const TOKENS_USAGE = 'toolbelt tokens create NAME --role viewer|operator|admin | create NAME --role caller --agent AGENT | list | revoke ID';

export async function tokensCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = parseOrUsage(TOKENS_USAGE, () =>
    parseArgs({ args: ctx.args, options: { role: { type: 'string' }, agent: { type: 'string' } }, allowPositionals: true, strict: true }),
  );
  const [action, arg] = positionals;
  if (action === 'list') return void (await ctx.client().request('GET', '/v1/tokens').then((t) => printStructured(ctx, t) || printTokens(ctx, t)));
  if (action === 'create' && arg && values.role) {
    const body = { name: arg, role: values.role, ...(values.agent ? { agent: values.agent } : {}) };
    const created = await ctx.client().request<{ token: string; role: string }>('POST', '/v1/tokens', { body });
    ctx.stderr.write(`created ${created.role} token "${arg}"; it is shown once:\n`);
    return ctx.print(created.token);
  }
  if (action === 'revoke' && arg) {
    await ctx.client().request('DELETE', `/v1/tokens/${enc(arg)}`);
    return ctx.print(`token ${arg} revoked`);
  }
  throw usageError('tokens create NAME --role ROLE [--agent AGENT] | list | revoke ID', TOKENS_USAGE);
}

function printTokens(ctx: CommandContext, answer: unknown): boolean {
  const items = (answer as { items: Record<string, string | null>[] }).items;
  printTable(ctx, ['id', 'name', 'role', 'last used', 'revoked'], items.map((t) => [t.id, t.name, t.role, age(t.last_used_at), t.revoked_at ? 'yes' : '']));
  return true;
}
