/**
 * The HTTP API (`/v1`) as a component: it mounts its routes on the server's router and,
 * when stopped, ends its open event streams. Options carry the seams other components plug
 * into: `secrets` (the secret store) and `metrics`. Spec writes announce themselves to the
 * reconcile loop in their own transactions (ops/context.ts).
 */
import { type Clock, type Db, systemClock } from '@toolbelt/schema';
import type { Component } from '../component.ts';
import type { Router } from '../http/router.ts';
import type { Logger } from '../logger.ts';
import { Authenticator } from './auth.ts';
import type { ApiDeps, MetricsRegistry } from './deps.ts';
import { DigitalOceanOptions } from './digitalocean-options.ts';
import { EventFeed } from './event-feed.ts';
import { buildOpenApi } from './openapi.ts';
import type { EnvironmentDefaults } from './ops/context.ts';
import { ToolConfigValidator } from './ops/tool-config.ts';
import { ApiRegistry } from './registry.ts';
import { defineRoute } from './route.ts';
import { agentRoutes } from './routes/agents.ts';
import { applyRoutes } from './routes/apply.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { consoleDataRoutes } from './routes/console-data.ts';
import { eventRoutes } from './routes/events.ts';
import { gatewayRoutes } from './routes/gateway.ts';
import { gitopsRoutes } from './routes/gitops.ts';
import type { GitopsSettings } from '../gitops/config.ts';
import type { McpEndpoint } from '../gateway/endpoint.ts';
import { secretRoutes } from './routes/secrets.ts';
import { sessionRoutes } from './routes/session.ts';
import { systemRoutes } from './routes/system.ts';
import { toolRoutes } from './routes/tools.ts';
import type { SecretStore } from './secrets.ts';

export interface ApiOptions {
  db: Db;
  logger: Logger;
  clock?: Clock;
  /** Region and size of environments created without them. */
  defaults?: EnvironmentDefaults;
  secrets?: SecretStore;
  metrics?: MetricsRegistry;
  /** How often event streams poll for new events (default 500 ms). */
  eventPollMs?: number;
  /** Caps on open event streams: in all (default 100) and per API token (default 10). */
  eventStreams?: { max?: number; perToken?: number };
  /** The version shown in the OpenAPI document. */
  version?: string;
  /** How long a console session lasts (default 12 hours). */
  sessionTtlMs?: number;
  /** The MCP gateway's endpoint; without one the gateway routes are not served. */
  gateway?: McpEndpoint | undefined;
  /** GitOps' settings (GET /v1/gitops, POST /v1/gitops/sync); undefined when it is off. */
  gitops?: GitopsSettings | undefined;
}

export const DEFAULT_ENVIRONMENT: EnvironmentDefaults = { region: 'nyc3', size: 's-1vcpu-1gb' };

export class Api implements Component {
  readonly name = 'api';
  readonly needsLeadership = false;
  readonly registry = new ApiRegistry();
  /** The one source of every event stream (and their caps). */
  readonly events: EventFeed;
  readonly #abort = new AbortController();
  readonly #authenticator: Authenticator;
  readonly #openapi: Record<string, unknown>;
  /** DigitalOcean's regions and sizes for the console; `startController` binds the provider. */
  readonly digitalocean: DigitalOceanOptions;

  constructor(options: ApiOptions) {
    const logger = options.logger;
    this.digitalocean = new DigitalOceanOptions({ clock: options.clock ?? systemClock });
    const deps: ApiDeps = {
      db: options.db,
      logger,
      clock: options.clock ?? systemClock,
      defaults: options.defaults ?? DEFAULT_ENVIRONMENT,
      configs: new ToolConfigValidator(),
      secrets: options.secrets,
      metrics: options.metrics,
      eventPollMs: options.eventPollMs ?? 500,
      events: (this.events = new EventFeed({
        db: options.db,
        clock: options.clock ?? systemClock,
        logger,
        pollMs: options.eventPollMs ?? 500,
        signal: this.#abort.signal,
        ...options.eventStreams,
      })),
      gitops: options.gitops,
      signal: this.#abort.signal,
      digitalocean: this.digitalocean,
    };
    this.#authenticator = new Authenticator({ db: options.db, clock: deps.clock });
    this.registry.add(
      ...agentRoutes(deps),
      ...catalogRoutes(deps),
      ...toolRoutes(deps),
      ...secretRoutes(deps),
      ...eventRoutes(deps),
      ...applyRoutes(deps),
      ...gitopsRoutes(deps),
      ...systemRoutes(deps),
      ...consoleDataRoutes(deps),
      ...sessionRoutes(deps, options.sessionTtlMs ?? 12 * 3_600_000),
      ...(options.gateway ? gatewayRoutes(deps, options.gateway) : []),
    );
    this.registry.add(
      defineRoute({
        method: 'GET',
        path: '/v1/openapi.json',
        summary: 'This OpenAPI document',
        tag: 'system',
        access: 'public',
        responses: { 200: { description: 'OpenAPI 3.1', contentType: 'application/json' } },
        handle: () => ({ status: 200, body: this.#openapi }),
      }),
    );
    this.#openapi = buildOpenApi(this.registry.routes, { version: options.version ?? '0.1.0' });
  }

  /** The OpenAPI document of every route this API serves. */
  get openapi(): Record<string, unknown> {
    return this.#openapi;
  }

  /** Adds the routes to the HTTP server's router (call before the server starts). */
  mount(router: Router): void {
    this.registry.mount(router, this.#authenticator);
  }

  async start(): Promise<void> {}

  /** Ends open event streams so that the HTTP server can close. */
  async stop(): Promise<void> {
    this.#abort.abort();
  }
}
