/**
 * `toolbelt get agents|agent NAME|catalog|tool NAME|tools AGENT|environments|tokens [-o json|yaml]`.
 */
import { type CommandContext, usageError } from '../context.ts';
import { age, conditionStatus, printStructured, printTable } from '../output.ts';

const USAGE = 'toolbelt get agents|agent NAME|catalog [NAME]|tools AGENT|tool AGENT/NAME|environments|tokens [-o json|yaml]';

type Row = Record<string, unknown> & { conditions?: { type: string; status: string }[] };
const enc = encodeURIComponent;

async function fetchAll(ctx: CommandContext, path: string): Promise<Row[]> {
  const items: Row[] = [];
  let after: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: { items: Row[]; next?: string | null } = await ctx
      .client()
      .request('GET', `${path}${sep}limit=500${after ? `&after=${enc(after)}` : ''}`);
    items.push(...page.items);
    after = page.next ?? null;
  } while (after);
  return items;
}

/** Monthly prices by size slug, from `GET /v1/digitalocean/options` (empty when it cannot answer). */
type Prices = Map<string, number>;

async function fetchPrices(ctx: CommandContext): Promise<Prices> {
  try {
    const options: { sizes: { slug: string; price_monthly: number }[] } = await ctx.client().request('GET', '/v1/digitalocean/options');
    return new Map(options.sizes.map((s) => [s.slug, s.price_monthly]));
  } catch {
    return new Map();
  }
}

/** What an environment costs a month while it is on: `$6.00/mo`, `-` when off or the size is not listed. */
function priceOf(r: Row, prices: Prices): string {
  const env = r.environment as Row | null;
  const price = env && r.tool_environment_active ? prices.get(env.size as string) : undefined;
  return price === undefined ? '-' : `$${price.toFixed(2)}/mo`;
}

/** A tool's gateway filters in short: `allow 2`, `deny 1`, `allow 2, deny 1`, or `-`. */
function filterOf(r: Row): string {
  const parts = [
    Array.isArray(r.allowed_tools) ? `allow ${r.allowed_tools.length}` : '',
    Array.isArray(r.denied_tools) && r.denied_tools.length > 0 ? `deny ${r.denied_tools.length}` : '',
  ].filter(Boolean);
  return parts.join(', ') || '-';
}

const TABLES: Record<string, { path: (arg?: string) => string; headers: string[]; row: (r: Row, prices: Prices) => unknown[]; single?: boolean }> = {
  agents: {
    path: () => '/v1/agents',
    headers: ['name', 'external id', 'environment', 'region', 'size', 'price', 'status', 'ready', 'age'],
    row: (r, prices) => {
      const env = r.environment as Row | null;
      const status = r.deletion_requested_at ? 'deleting' : env?.status;
      return [r.name, r.external_id, r.tool_environment_active ? 'on' : 'off', env?.region, env?.size, priceOf(r, prices), status, conditionStatus(env?.conditions), age(r.created_at as string)];
    },
  },
  catalog: {
    path: () => '/v1/catalog',
    headers: ['name', 'default', 'versions', 'packaging', 'transport'],
    row: (r) => {
      const v = r.version_info as { default: string; versions: string[] };
      return [r.tool_name, v.default, v.versions.join(','), r.packaging_type, r.transport];
    },
  },
  tools: {
    path: (agent) => `/v1/agents/${enc(agent!)}/tools`,
    headers: ['name', 'tool', 'version', 'desired', 'status', 'ready', 'filter', 'age'],
    row: (r) => [r.instance_name, r.tool_name, r.version, r.deletion_requested_at ? 'removing' : r.desired_state, r.status, conditionStatus(r.conditions), filterOf(r), age(r.created_at as string)],
  },
  environments: {
    path: () => '/v1/environments',
    headers: ['agent', 'active', 'region', 'size', 'status', 'droplet', 'ip', 'ready'],
    row: (r) => [r.agent_name, r.active ? 'yes' : 'no', r.region, r.size, r.status, r.droplet_id, r.ip_address, conditionStatus(r.conditions)],
  },
  tokens: {
    path: () => '/v1/tokens',
    headers: ['id', 'name', 'role', 'last used', 'revoked'],
    row: (r) => [r.id, r.name, r.role, age(r.last_used_at as string), r.revoked_at ? 'yes' : ''],
  },
};
const ALIASES: Record<string, string> = { agent: 'agents', tool: 'tools', env: 'environments', environment: 'environments', token: 'tokens' };

async function getOne(ctx: CommandContext, kind: string, name: string): Promise<Row> {
  if (kind === 'agents') return ctx.client().request('GET', `/v1/agents/${enc(name)}`);
  if (kind === 'catalog') return ctx.client().request('GET', `/v1/catalog/${enc(name)}`);
  const [agent, tool] = name.split('/');
  if (kind === 'tools' && tool) return ctx.client().request('GET', `/v1/agents/${enc(agent!)}/tools/${enc(tool)}`);
  throw usageError(`cannot get one of ${kind} by name`, USAGE);
}

function kindOf(args: string[]): { kind: string; name: string | undefined } {
  const [rawKind, name, ...extra] = args;
  if (!rawKind || extra.length > 0) throw usageError(rawKind ? `unexpected argument ${extra[0]}` : 'get what?', USAGE);
  return { kind: ALIASES[rawKind] ?? rawKind, name };
}

export async function getCommand(ctx: CommandContext): Promise<void> {
  const { kind, name } = kindOf(ctx.args);
  const table = TABLES[kind];
  if (!table) throw usageError(`unknown kind "${kind}"`, USAGE);
  if (kind === 'tools' && !name) throw usageError('get tools needs the agent: toolbelt get tools AGENT', USAGE);
  const single = name !== undefined && (kind !== 'tools' || name.includes('/'));
  const rows = single ? [await getOne(ctx, kind, name)] : await fetchAll(ctx, table.path(name));
  if (printStructured(ctx, single ? rows[0] : rows)) return;
  const prices = kind === 'agents' ? await fetchPrices(ctx) : new Map<string, number>();
  printTable(ctx, table.headers, rows.map((r) => table.row(r, prices) as (string | null)[]));
}
