/** The fleet firewall's spec from the policy (pure), and refusals of bad policies. */
import { describe, expect, it } from 'vitest';
import { createFirewallReconciler, firewallPolicyProblem, fleetFirewallName, fleetFirewallSpec } from '../src/index.ts';

const policy = { name: 'tb-fleet-toolbelt', fleetTag: 'toolbelt', adminCidrs: [] as string[], toolSourceCidrs: [] as string[] };

describe('fleet firewall spec', () => {
  it('opens nothing inbound by default, everything outbound, for the fleet tag', () => {
    const spec = fleetFirewallSpec(policy, [8080, 9000]);
    expect(spec.inboundRules).toEqual([]);
    expect(spec.tags).toEqual(['toolbelt']);
    expect(spec.outboundRules.map((r) => [r.protocol, r.ports, r.destinations.addresses])).toEqual([
      ['tcp', '0', ['0.0.0.0/0', '::/0']],
      ['udp', '0', ['0.0.0.0/0', '::/0']],
      ['icmp', '0', ['0.0.0.0/0', '::/0']],
    ]);
  });

  it('lets SSH in only from admin CIDRs and tool ports only from tool sources', () => {
    const spec = fleetFirewallSpec({ ...policy, adminCidrs: ['203.0.113.9', '198.51.100.0/24'], toolSourceCidrs: ['10.0.0.0/8'], extraToolPorts: [9000] }, [8080, 22, 8080]);
    expect(spec.inboundRules).toEqual([
      { protocol: 'tcp', ports: '22', sources: { addresses: ['198.51.100.0/24', '203.0.113.9'] } },
      { protocol: 'tcp', ports: '8080', sources: { addresses: ['10.0.0.0/8'] } },
      { protocol: 'tcp', ports: '9000', sources: { addresses: ['10.0.0.0/8'] } },
    ]);
  });

  it('names the firewall after the fleet tag with what firewall names allow', () => {
    expect(fleetFirewallName('toolbelt')).toBe('tb-fleet-toolbelt');
    expect(fleetFirewallName('team_a:prod')).toBe('tb-fleet-team-a-prod');
  });

  it('refuses a policy that cannot be sent, saying what is wrong', () => {
    expect(firewallPolicyProblem({ ...policy, adminCidrs: ['everyone'] })).toMatch(/"everyone" is not an IP address or CIDR/);
    expect(firewallPolicyProblem({ ...policy, extraToolPorts: [70000] })).toMatch(/port 70000/);
    expect(() => createFirewallReconciler({ provider: { ensureFirewall: async () => { throw new Error('unused'); } }, policy: { ...policy, fleetTag: 'a b' } })).toThrow(/fleet firewall/);
  });
});
