/**
 * What the API routes are given: the write path's dependencies plus the clock and the
 * seams other components plug into (secret store, metrics registry).
 */
import type { Clock } from '@toolbelt/schema';
import type { GitopsSettings } from '../gitops/config.ts';
import type { DigitalOceanOptions } from './digitalocean-options.ts';
import type { EventFeed } from './event-feed.ts';
import type { WriteDeps } from './ops/context.ts';
import type { SecretStore } from './secrets.ts';

/** Anything that renders Prometheus text, such as a prom-client `Registry`. */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string> | string;
}

export interface ApiDeps extends WriteDeps {
  clock: Clock;
  /** Where secret values go; without one the secret routes answer 501. */
  secrets: SecretStore | undefined;
  /** Rendered at /metrics; without one /metrics serves an empty exposition. */
  metrics: MetricsRegistry | undefined;
  /** How often an event stream looks for new events. */
  eventPollMs: number;
  /** DigitalOcean's regions and sizes, cached (empty until a provider is bound). */
  digitalocean: DigitalOceanOptions;
  /** The one source of every event stream, and their admission (caps). */
  events: EventFeed;
  /** GitOps' settings; undefined when it is off. */
  gitops: GitopsSettings | undefined;
  /** Aborted when the API stops: open streams end. */
  signal: AbortSignal;
}
