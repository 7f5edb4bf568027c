/**
 * Cloud firewalls of the account, stored in DigitalOcean's own wire shape for rules (the
 * simulator does not enforce them; it remembers what was asked, as the API does).
 */

/** Where a rule's traffic comes from or goes to. */
export interface RuleTargets {
  addresses?: string[];
  droplet_ids?: number[];
  load_balancer_uids?: string[];
  kubernetes_ids?: string[];
  tags?: string[];
}

export interface InboundRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  ports: string;
  sources: RuleTargets;
}

export interface OutboundRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  ports: string;
  destinations: RuleTargets;
}

export interface FirewallRecord {
  readonly id: string;
  name: string;
  readonly createdAt: number;
  dropletIds: number[];
  tags: string[];
  inboundRules: InboundRule[];
  outboundRules: OutboundRule[];
}

export class FirewallStore {
  readonly #firewalls = new Map<string, FirewallRecord>();

  get(id: string): FirewallRecord | undefined {
    return this.#firewalls.get(id);
  }

  /** Firewalls in creation order. */
  list(): FirewallRecord[] {
    return [...this.#firewalls.values()];
  }

  put(firewall: FirewallRecord): void {
    this.#firewalls.set(firewall.id, firewall);
  }

  delete(id: string): boolean {
    return this.#firewalls.delete(id);
  }

  /** A deleted droplet leaves every firewall (as at DigitalOcean). */
  forgetDroplet(dropletId: number): void {
    for (const firewall of this.#firewalls.values()) {
      if (firewall.dropletIds.includes(dropletId)) firewall.dropletIds = firewall.dropletIds.filter((id) => id !== dropletId);
    }
  }

  /** A deleted tag leaves every firewall. */
  forgetTag(tag: string): void {
    for (const firewall of this.#firewalls.values()) {
      if (firewall.tags.includes(tag)) firewall.tags = firewall.tags.filter((t) => t !== tag);
    }
  }
}
