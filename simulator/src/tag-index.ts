/**
 * Tags of the account and which droplets carry each. DigitalOcean tags exist on their own
 * (created explicitly or by tagging at create); the index makes `?tag_name=` sweeps cost
 * the size of the tag, not of the fleet.
 */

interface TagEntry {
  readonly droplets: Set<number>;
  lastTaggedDroplet: number | undefined;
}

export class TagIndex {
  readonly #tags = new Map<string, TagEntry>();

  /** Creates the tag if it does not exist (creating a tag is idempotent at DigitalOcean). */
  ensure(name: string): void {
    if (!this.#tags.has(name)) this.#tags.set(name, { droplets: new Set(), lastTaggedDroplet: undefined });
  }

  has(name: string): boolean {
    return this.#tags.has(name);
  }

  delete(name: string): boolean {
    return this.#tags.delete(name);
  }

  /** Tag names in creation order. */
  names(): string[] {
    return [...this.#tags.keys()];
  }

  add(name: string, dropletId: number): void {
    this.ensure(name);
    const entry = this.#tags.get(name)!;
    entry.droplets.add(dropletId);
    entry.lastTaggedDroplet = dropletId;
  }

  remove(name: string, dropletId: number): void {
    const entry = this.#tags.get(name);
    if (!entry) return;
    entry.droplets.delete(dropletId);
  }

  /** Ids of the droplets carrying the tag (none when the tag does not exist). */
  dropletIds(name: string): number[] {
    return [...(this.#tags.get(name)?.droplets ?? [])];
  }

  /** How many droplets carry the tag. */
  count(name: string): number {
    return this.#tags.get(name)?.droplets.size ?? 0;
  }

  /** The droplet tagged most recently with `name` that still carries it, if any. */
  lastTagged(name: string): number | undefined {
    const entry = this.#tags.get(name);
    if (!entry) return undefined;
    // Computed on read: removals stay O(1), reads of tags are rare.
    if (entry.lastTaggedDroplet !== undefined && entry.droplets.has(entry.lastTaggedDroplet)) return entry.lastTaggedDroplet;
    return [...entry.droplets].pop();
  }
}
