/**
 * The fleet firewall reconciler: ONE DigitalOcean cloud firewall covering every droplet with
 * the fleet tag.
 * - inbound: nothing by default — agents dial out to the controller;
 * - SSH (22/tcp) only from the configured admin CIDRs;
 * - each tool port of the catalog only from the configured tool source CIDRs;
 * - outbound: open (tcp, udp, icmp to anywhere) — agents reach the controller, registries.
 * Drift (rules edited by hand, the firewall deleted) is repaired on every reconcile; the
 * reconcile repeats every `recheckMs`. Every change is an event.
 */
import { type Db, catalogToolPorts } from '@toolbelt/schema';
import type { ReconcileContext, Reconciler, ReconcileResult } from './contract.ts';
import type { EnsureFirewallResult, FirewallSpec, InboundRule, OutboundRule } from './provider/firewall.ts';
import { tagProblem } from './provider/identity.ts';

export const FIREWALL_KIND = 'firewall';

/** What the fleet firewall should allow. */
export interface FleetFirewallPolicy {
  /** The firewall's name, its identity (default `tb-fleet-<fleetTag>`). */
  name: string;
  fleetTag: string;
  /** Who may SSH in (none by default). */
  adminCidrs: readonly string[];
  /** Who may reach the tools' ports (none by default). */
  toolSourceCidrs: readonly string[];
  /** Ports opened to `toolSourceCidrs` besides those of the catalog. */
  extraToolPorts?: readonly number[];
}

const EVERYWHERE = ['0.0.0.0/0', '::/0'];
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?|[0-9a-fA-F:]+(\/\d{1,3})?)$/;

/** The firewall name for a fleet tag (firewall names take letters, digits, `.` and `-`). */
export function fleetFirewallName(fleetTag: string): string {
  return `tb-fleet-${fleetTag.replace(/[^a-zA-Z0-9.-]/g, '-')}`;
}

/** Why a policy is unusable, or undefined. Pure. */
export function firewallPolicyProblem(policy: FleetFirewallPolicy): string | undefined {
  const tag = tagProblem(policy.fleetTag);
  if (tag) return tag;
  for (const cidr of [...policy.adminCidrs, ...policy.toolSourceCidrs]) {
    if (!CIDR.test(cidr)) return `"${cidr}" is not an IP address or CIDR block (e.g. 198.51.100.0/24)`;
  }
  for (const port of policy.extraToolPorts ?? []) {
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) return `tool port ${port} is not a port number`;
  }
  return undefined;
}

/** The firewall the policy asks for, given the catalog's tool ports. Pure. */
export function fleetFirewallSpec(policy: FleetFirewallPolicy, catalogPorts: readonly number[]): FirewallSpec {
  const inboundRules: InboundRule[] = [];
  if (policy.adminCidrs.length > 0) {
    inboundRules.push({ protocol: 'tcp', ports: '22', sources: { addresses: [...policy.adminCidrs].sort() } });
  }
  const ports = [...new Set([...catalogPorts, ...(policy.extraToolPorts ?? [])])].filter((p) => p !== 22).sort((a, b) => a - b);
  if (policy.toolSourceCidrs.length > 0) {
    for (const port of ports) {
      inboundRules.push({ protocol: 'tcp', ports: String(port), sources: { addresses: [...policy.toolSourceCidrs].sort() } });
    }
  }
  const outboundRules: OutboundRule[] = [
    { protocol: 'tcp', ports: '0', destinations: { addresses: EVERYWHERE } },
    { protocol: 'udp', ports: '0', destinations: { addresses: EVERYWHERE } },
    { protocol: 'icmp', ports: '0', destinations: { addresses: EVERYWHERE } },
  ];
  return { name: policy.name, inboundRules, outboundRules, tags: [policy.fleetTag] };
}

/** What the firewall reconciler needs of the provider. */
export interface FirewallProvider {
  ensureFirewall(spec: FirewallSpec, options?: { signal?: AbortSignal }): Promise<EnsureFirewallResult>;
}

export interface FirewallReconcilerOptions {
  provider: FirewallProvider;
  policy: FleetFirewallPolicy;
  /** How often drift is looked for (default 10 min). */
  recheckMs?: number;
}

function describeRules(spec: FirewallSpec): string {
  const inbound = spec.inboundRules.map((r) => `${r.protocol}/${r.ports} from ${(r.sources.addresses ?? []).join(' ')}`);
  return inbound.length > 0 ? `inbound ${inbound.join('; ')}` : 'no inbound traffic';
}

/** Makes the firewall reconciler (one key: the firewall's name). Refuses a bad policy at once. */
export function createFirewallReconciler(options: FirewallReconcilerOptions): Reconciler {
  const problem = firewallPolicyProblem(options.policy);
  if (problem) throw new RangeError(`fleet firewall: ${problem}`);
  const recheckMs = options.recheckMs ?? 10 * 60_000;
  const { policy } = options;

  async function reconcile(ctx: ReconcileContext, key: string): Promise<ReconcileResult> {
    if (key !== policy.name) return; // a firewall this controller no longer manages
    const spec = fleetFirewallSpec(policy, await catalogToolPorts(ctx.db));
    const result = await options.provider.ensureFirewall(spec, { signal: ctx.signal });
    const what = `firewall ${policy.name} (${result.firewall.id}) for droplets tagged ${policy.fleetTag}: ${describeRules(spec)}, outbound open`;
    if (result.action === 'created') await ctx.events.normal('FirewallCreated', `created ${what}`);
    if (result.action === 'updated') await ctx.events.warning('FirewallDriftRepaired', `repaired ${what}`);
    return { requeueAfterMs: recheckMs };
  }

  return { kind: FIREWALL_KIND, reconcile, listKeys: async (_db: Db) => [policy.name] };
}
