/**
 * Firewalls and tags: `ensureFirewall` makes the named firewall exist with exactly the given
 * rules and tags (create, update or leave alone), `tagResources` tags droplets.
 *
 * A firewall's identity is its name. Its create is sent once; after a lost answer the
 * firewalls are listed again and a firewall of that name is adopted.
 */
import { type ProviderContext, type CallOptions } from './droplets.ts';
import { type ProviderError, invalidRequest, isProviderError, itemIn, listIn } from './errors.ts';
import { tagProblem } from './identity.ts';

/** Where traffic may come from or go to (DigitalOcean's JSON shape). */
export interface FirewallTargets {
  addresses?: string[];
  droplet_ids?: number[];
  load_balancer_uids?: string[];
  kubernetes_ids?: string[];
  tags?: string[];
}

export interface InboundRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  /** A port, a range `8000-9000`, or `0`/`all` for every port (ICMP: always `0`). */
  ports: string;
  sources: FirewallTargets;
}

export interface OutboundRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  ports: string;
  destinations: FirewallTargets;
}

/** What a firewall should be. */
export interface FirewallSpec {
  /** Its identity: `^[a-zA-Z0-9][a-zA-Z0-9.-]+$`. */
  name: string;
  inboundRules: InboundRule[];
  outboundRules: OutboundRule[];
  /** Droplets carrying any of these tags are covered (toolbelt uses the fleet tag). */
  tags: string[];
  /** Droplets covered by id; when omitted, whatever the firewall has is kept. */
  dropletIds?: number[];
}

/** A firewall as observed. */
export interface Firewall {
  id: string;
  name: string;
  status: string;
  inboundRules: InboundRule[];
  outboundRules: OutboundRule[];
  tags: string[];
  dropletIds: number[];
}

export interface EnsureFirewallResult {
  firewall: Firewall;
  action: 'created' | 'updated' | 'unchanged';
}

const FIREWALL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]+$/;

type Json = Record<string, unknown>;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** A firewall from DigitalOcean's JSON. */
export function toFirewall(raw: unknown): Firewall {
  const f = (raw ?? {}) as Json;
  return {
    id: String(f.id ?? ''),
    name: String(f.name ?? ''),
    status: String(f.status ?? ''),
    inboundRules: arr(f.inbound_rules) as InboundRule[],
    outboundRules: arr(f.outbound_rules) as OutboundRule[],
    tags: arr(f.tags).map(String),
    dropletIds: arr(f.droplet_ids).map(Number),
  };
}

function canonicalTargets(t: FirewallTargets | undefined): Json {
  const out: Json = {};
  for (const key of ['addresses', 'droplet_ids', 'load_balancer_uids', 'kubernetes_ids', 'tags'] as const) {
    const values = [...(t?.[key] ?? [])].map(String).sort();
    if (values.length > 0) out[key] = values;
  }
  return out;
}

/** DigitalOcean answers `0` for "all ports" and for every ICMP rule. */
function canonicalPorts(protocol: string, ports: string | undefined): string {
  if (protocol === 'icmp' || !ports || ports === 'all') return '0';
  return ports;
}

function canonicalRules(rules: readonly (InboundRule | OutboundRule)[]): string[] {
  return rules
    .map((r) => {
      const protocol = String(r.protocol).toLowerCase();
      const targets = 'sources' in r ? r.sources : r.destinations;
      return JSON.stringify([protocol, canonicalPorts(protocol, r.ports), canonicalTargets(targets)]);
    })
    .sort();
}

const sameList = (a: readonly string[], b: readonly string[]) => JSON.stringify(a) === JSON.stringify(b);

/** Whether the firewall already is what the spec asks for. Pure. */
export function firewallMatches(spec: FirewallSpec, actual: Firewall): boolean {
  return (
    sameList(canonicalRules(spec.inboundRules), canonicalRules(actual.inboundRules)) &&
    sameList(canonicalRules(spec.outboundRules), canonicalRules(actual.outboundRules)) &&
    sameList([...spec.tags].sort(), [...actual.tags].sort()) &&
    (spec.dropletIds === undefined || sameList(spec.dropletIds.map(String).sort(), actual.dropletIds.map(String).sort()))
  );
}

function specProblem(spec: FirewallSpec): string | undefined {
  if (!FIREWALL_NAME.test(spec.name)) return `firewall name "${spec.name}" must be letters, digits, "." and "-", starting with a letter or digit`;
  if (spec.inboundRules.length + spec.outboundRules.length === 0) return 'a firewall needs at least one rule';
  for (const tag of spec.tags) {
    const problem = tagProblem(tag);
    if (problem) return problem;
  }
  return undefined;
}

/** Every firewall of the account, all pages. */
export async function listFirewalls(ctx: ProviderContext, options: CallOptions = {}): Promise<Firewall[]> {
  const firewalls: Firewall[] = [];
  for (let page = 1; ; page += 1) {
    const answer = await ctx.transport.call({
      endpoint: 'GET /v2/firewalls',
      safety: 'idempotent',
      signal: options.signal,
      send: () => ctx.client.firewall.listFirewalls({ page, per_page: 200 }),
    });
    firewalls.push(...listIn<unknown>(answer, 'firewalls', 'GET /v2/firewalls').map(toFirewall));
    if (!answer.data.links?.pages?.next) return firewalls;
  }
}

function requestBody(spec: FirewallSpec, existing?: Firewall) {
  return {
    name: spec.name,
    inbound_rules: spec.inboundRules,
    outbound_rules: spec.outboundRules,
    tags: spec.tags,
    droplet_ids: spec.dropletIds ?? existing?.dropletIds ?? [],
  };
}

async function createOrAdopt(ctx: ProviderContext, spec: FirewallSpec, options: CallOptions): Promise<EnsureFirewallResult> {
  try {
    const answer = await ctx.transport.call({
      endpoint: 'POST /v2/firewalls',
      safety: 'once',
      signal: options.signal,
      send: () => ctx.client.firewall.createFirewall(requestBody(spec)),
    });
    return { firewall: toFirewall(itemIn(answer, 'firewall', 'POST /v2/firewalls', true)), action: 'created' };
  } catch (error) {
    if (!(isProviderError(error) && error.outcomeUnknown)) throw error;
    const adopted = (await listFirewalls(ctx, options)).find((f) => f.name === spec.name);
    if (!adopted) throw error as ProviderError;
    return ensureExisting(ctx, spec, adopted, { ...options, adopted: true });
  }
}

async function ensureExisting(
  ctx: ProviderContext,
  spec: FirewallSpec,
  existing: Firewall,
  options: CallOptions & { adopted?: boolean },
): Promise<EnsureFirewallResult> {
  // A firewall adopted after a lost create answer was created by this call.
  if (firewallMatches(spec, existing)) return { firewall: existing, action: options.adopted ? 'created' : 'unchanged' };
  const answer = await ctx.transport.call({
    endpoint: 'PUT /v2/firewalls/{id}',
    safety: 'idempotent',
    signal: options.signal,
    // PUT replaces the whole firewall: droplet ids not in the spec are carried over.
    send: () => ctx.client.firewall.updateFirewall({ id: existing.id, ...requestBody(spec, existing) }),
  });
  return { firewall: toFirewall(itemIn(answer, 'firewall', 'PUT /v2/firewalls/{id}')), action: 'updated' };
}

/** Makes the firewall named `spec.name` exist with exactly the spec's rules and tags. */
export async function ensureFirewall(ctx: ProviderContext, spec: FirewallSpec, options: CallOptions = {}): Promise<EnsureFirewallResult> {
  const problem = specProblem(spec);
  if (problem) throw invalidRequest('POST /v2/firewalls', problem);
  const existing = (await listFirewalls(ctx, options)).find((f) => f.name === spec.name);
  return existing ? ensureExisting(ctx, spec, existing, options) : createOrAdopt(ctx, spec, options);
}

/**
 * Tags droplets (idempotent). The tag is created when DigitalOcean does not know it yet
 * (the tagging answers 404), then the tagging is sent again.
 */
export async function tagResources(ctx: ProviderContext, tag: string, dropletIds: readonly number[], options: CallOptions = {}): Promise<void> {
  const problem = tagProblem(tag) ?? (dropletIds.length === 0 ? 'no droplets to tag' : undefined);
  if (problem) throw invalidRequest('POST /v2/tags/{tag}/resources', problem);
  const resources = dropletIds.map((id) => ({ resource_id: String(id), resource_type: 'droplet' as const }));
  const tagThem = () =>
    ctx.transport.call({
      endpoint: 'POST /v2/tags/{tag}/resources',
      safety: 'idempotent',
      signal: options.signal,
      send: () => ctx.client.tag.tagResources({ tag_name: tag, resources }),
    });
  try {
    await tagThem();
  } catch (error) {
    if (!isProviderError(error, 'not_found')) throw error;
    await ctx.transport.call({
      endpoint: 'POST /v2/tags',
      safety: 'idempotent',
      signal: options.signal,
      send: () => ctx.client.tag.createTag({ name: tag }),
    });
    await tagThem();
  }
}
