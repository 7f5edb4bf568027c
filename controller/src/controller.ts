/**
 * The composition root: every part of a controller is built and wired here, top to bottom.
 *
 *   1. the loop's runner, first, and the leader elector that runs it;
 *   2. the HTTP server with its routes (health, the API, the package shelf, the agent
 *      releases, the GitHub webhook) and the agent hub;
 *   3. on the runner: the reconcilers (the lifecycle's, the tools reconciler, GitOps' sync, any extra) and
 *      the sources (spec changes by NOTIFY, agent events from the hub, the fleet sweep);
 *   4. the components start in order — HTTP server, API, hub, elector — and stop in reverse,
 *      then the lifecycle's connections close and the local droplets' agents stop.
 *
 * `main` runs it (`startController`); tests serve their own database (`serveDatabase`).
 */
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createToolsReconciler, type Fence, type Reconciler } from '@toolbelt/reconcilers';
import { AGENT_EVENTS_CHANNEL, type Clock, type Database, forwardAgentEvents, migrate, openDatabase, systemClock } from '@toolbelt/schema';
import { createLocalDroplets, type LocalDroplets } from '@toolbelt/simulator';
import { Registry } from 'prom-client';
import { AgentReleases } from './agent-releases.ts';
import { ensureAdminToken } from './api/admin-token.ts';
import { Api, type ApiOptions } from './api/api.ts';
import { openSecretStore } from './api/secret-setup.ts';
import { PackageShelf } from './catalog/package-shelf.ts';
import { seedCatalogTools } from './catalog/seed.ts';
import { type Component, ComponentSet } from './component.ts';
import type { Config } from './config.ts';
import { addConsoleRoutes } from './http/console.ts';
import { addHealthRoutes } from './http/health.ts';
import { Router } from './http/router.ts';
import { HttpServer } from './http/server.ts';
import { Gateway } from './gateway/gateway.ts';
import { gitopsSettingsOf } from './gitops/config.ts';
import { type GitopsMetrics, gitopsMetrics } from './gitops/metrics.ts';
import { createGitopsReconciler } from './gitops/sync.ts';
import { GitHubWebhook } from './gitops/webhook.ts';
import { AgentHub, type AgentHubOptions } from './hub/index.ts';
import { createLifecycle, type Lifecycle, type LifecycleOptions } from './lifecycle.ts';
import { toolHostIp } from './lifecycle-config.ts';
import type { Logger } from './logger.ts';
import { LeaderElector } from './loop/leader.ts';
import { LoopRunner } from './loop/runner.ts';
import { registerControllerMetrics } from './metrics.ts';
import { secretResolver } from './secrets/resolver.ts';
import { AgentEventSource } from './sources/agent-events.ts';
import { SpecChangeSource } from './sources/spec-changes.ts';

/** The reconcile loop of a controller: its runner and the elector that runs it on the leader. */
export interface Loop {
  runner: LoopRunner;
  elector: LeaderElector;
}

export interface RunningController {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly database: Database;
  readonly http: HttpServer;
  readonly api: Api;
  /** The agent hub on `/agent/v1`: `isConnected`, `stats`. */
  readonly hub: AgentHub;
  /** The runner (enqueue keys here) and the elector (is this replica the leader?); undefined with `loop: false`. */
  readonly loop: Loop | undefined;
  /** The loop's and the lifecycle's metrics. */
  readonly registry: Registry;
  /** The droplet lifecycle (provider or embedded simulator, fleet cache, batcher), unless turned off. */
  readonly lifecycle: Lifecycle | undefined;
  /** The embedded simulator's droplets as real local agents, when they run. */
  readonly localDroplets: LocalDroplets | undefined;
  stop(): Promise<void>;
}

/** What callers may plug into a controller besides its config (the seams of its parts). */
export interface ControllerOptions {
  secrets?: ApiOptions['secrets'];
  metrics?: ApiOptions['metrics'];
  clock?: Clock;
  eventPollMs?: ApiOptions['eventPollMs'];
  eventStreams?: ApiOptions['eventStreams'];
  /** Where the one-time first admin token is printed (default: process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Hub options beyond the config: tunables, and an `onAgentEvent` told besides the loop. */
  hub?: Omit<AgentHubOptions, 'database' | 'http' | 'logger'>;
  /** Further reconcilers the loop runs. */
  reconcilers?: readonly Reconciler[];
  /**
   * Seams of the droplet lifecycle: `beforeDelete` (default: stop the tools), `simulatorHooks`
   * (default: local droplets when TOOLBELT_LOCAL_DROPLETS), `renderUserData`. `false` runs no
   * lifecycle at all.
   */
  lifecycle?: Pick<LifecycleOptions, 'beforeDelete' | 'simulatorHooks' | 'renderUserData'> | false;
  /** `false` runs no reconcile loop (and no lifecycle): the API and the hub only. */
  loop?: boolean;
  /** Retry backoff of failed tool commands (tests shorten it). */
  toolRetry?: { baseMs?: number; maxMs?: number };
}

interface Setup {
  config: Config;
  logger: Logger;
  options: ControllerOptions;
}

/** Opens and migrates the database named by the config, saying which one it is. */
export async function openMigratedDatabase(config: Config, logger: Logger): Promise<Database> {
  if (!config.databaseUrl) {
    logger.info({ dataDir: config.dataDir }, `using embedded PGlite in ${config.dataDir} (set DATABASE_URL to use a Postgres server)`);
  }
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, schema: config.dbSchema });
  try {
    const result = await migrate(database.db);
    logger.info(
      { database: database.location, kind: database.kind, schema: database.schema, applied: result.applied, current: result.current },
      result.applied.length ? `applied ${result.applied.length} migration(s)` : 'database schema is up to date',
    );
    return database;
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * Opens and migrates the database named by the config, opens the secret store it configures
 * (unless one is passed), then serves them (see `serveDatabase`).
 */
export async function startController(config: Config, logger: Logger, options: ControllerOptions = {}): Promise<RunningController> {
  const database = await openMigratedDatabase(config, logger);
  let secrets: ControllerOptions['secrets'];
  try {
    secrets = options.secrets ?? (await openSecretStore(config, database.db, logger));
  } catch (error) {
    await database.close();
    throw error;
  }
  return serveDatabase(database, { config, logger, options: { ...options, secrets }, ownsDatabase: true });
}

/**
 * Serves an open, migrated database: registers the first admin token, seeds the catalog,
 * then starts the HTTP server, the API, the hub and the loop. With `ownsDatabase`, stopping
 * (or failing to start) closes the database too; tests pass their own database and keep it.
 */
export async function serveDatabase(
  database: Database,
  setup: { config: Config; logger: Logger; options?: ControllerOptions; ownsDatabase: boolean },
): Promise<RunningController> {
  const { config, logger } = setup;
  const closeDatabase = () => (setup.ownsDatabase ? database.close() : Promise.resolve());
  let parts: Parts;
  try {
    parts = await assemble(database, { config, logger, options: setup.options ?? {} });
  } catch (error) {
    await closeDatabase();
    throw error;
  }
  logger.info({ url: parts.http.url }, `toolbelt controller serving on ${parts.http.url}`);
  let stopping: Promise<void> | undefined;
  const { stop, ...running } = parts;
  return {
    ...running,
    url: parts.http.url,
    database,
    stop() {
      stopping ??= stop().then(closeDatabase);
      return stopping;
    },
  };
}

type Parts = Omit<RunningController, 'url' | 'database'>;

/** Builds every part (steps 1–3) and starts the components (step 4); on failure, undoes what was started. */
async function assemble(database: Database, setup: Setup): Promise<Parts> {
  const { logger, options } = setup;
  const registry = new Registry();
  // 1. The runner first: everything that puts keys on it is built after it.
  let looped: Looped | undefined;
  const runner = options.loop === false ? undefined : buildRunner(database, setup, registry, () => looped!.elector.fence());
  const agentEvents = runner
    ? new AgentEventSource({ sink: runner, forward: (changes) => forwardAgentEvents(database.db, changes), logger: logger.child({ component: 'agent-events' }) })
    : undefined;
  // 2. What every replica serves.
  const { http, api, hub, gateway, shelf, releases, gitops } = buildServing(database, setup, registry, agentEvents);
  const components = new ComponentSet(logger);
  const close = () => closeLifecycle(looped);
  try {
    await prepareStore(database, setup, shelf);
    await releases.load();
    // 3. Reconcilers and sources, registered on the runner.
    if (runner && agentEvents) looped = await registerOnRunner(database, setup, { runner, agentEvents, registry, http, shelf, releases, gitops });
    registerControllerMetrics(registry, { db: database.db, hub, provider: looped?.lifecycle?.provider });
    // The console's region and size pickers and prices read DigitalOcean through the lifecycle's provider.
    if (looped?.lifecycle) api.digitalocean.bind(looped.lifecycle.provider);
    // 4. Stopped in reverse: the loop first, then the hub, the API (its event streams), the server.
    await components.start([http, api, hub, gateway, ...(looped ? [looped.elector] : [])]);
  } catch (error) {
    await close();
    throw error;
  }
  const stop = async () => {
    await components.stop();
    await close();
  };
  return { http, api, hub, registry, ...loopParts(runner, looped), stop };
}

/** The loop's parts of a running controller (all undefined without a loop). */
function loopParts(runner: LoopRunner | undefined, looped: Looped | undefined): Pick<Parts, 'loop' | 'lifecycle' | 'localDroplets'> {
  if (!runner || !looped) return { loop: undefined, lifecycle: undefined, localDroplets: undefined };
  return { loop: { runner, elector: looped.elector }, lifecycle: looped.lifecycle, localDroplets: looped.localDroplets };
}

/** Closes the lifecycle's connections and stops the local droplets' agents and tools. */
async function closeLifecycle(looped: Omit<Looped, 'elector'> | undefined): Promise<void> {
  await looped?.lifecycle?.close();
  await looped?.localDroplets?.stopAll();
}

/** The first admin token, and the catalog's seed tools when asked for. */
async function prepareStore(database: Database, { config, logger, options }: Setup, shelf: PackageShelf): Promise<void> {
  await ensureAdminToken({
    db: database.db,
    logger,
    adminToken: config.adminToken,
    dataDir: config.databaseUrl ? undefined : config.dataDir,
    ...(options.stderr ? { stderr: options.stderr } : {}),
  });
  if (!config.seedCatalog) return;
  const echoVersion = (await shelf.list()).get('@toolbelt/echo-mcp')?.version ?? '1.0.0';
  await seedCatalogTools(database.db, logger, echoVersion, { localDroplets: config.localDroplets && !config.digitaloceanToken });
}

interface Looped {
  elector: LeaderElector;
  lifecycle: Lifecycle | undefined;
  localDroplets: LocalDroplets | undefined;
}

/**
 * Registers on the runner the reconcilers (the lifecycle's, the tools reconciler, any extra)
 * and the sources (spec changes, agent events, the fleet sweep); the elector runs it, after
 * the lifecycle's leader-only batcher, on the leader.
 */
async function registerOnRunner(
  database: Database,
  setup: Setup,
  parts: {
    runner: LoopRunner;
    agentEvents: AgentEventSource;
    registry: Registry;
    http: HttpServer;
    shelf: PackageShelf;
    releases: AgentReleases;
    gitops: GitopsMetrics | undefined;
  },
): Promise<Looped> {
  const { config, logger, options } = setup;
  const { runner, registry } = parts;
  const { lifecycle, localDroplets } = await buildLifecycle(database, setup, parts);
  try {
    const tools = createToolsReconciler({
      resolvePackage: await parts.shelf.resolver(),
      toolHostIp: toolHostIp(config),
      ...(options.toolRetry ? { retry: options.toolRetry } : {}),
    });
    const settings = gitopsSettingsOf(config);
    const gitops = settings
      ? [createGitopsReconciler({ settings, dir: stateDir(config, 'gitops'), defaults: { region: config.defaultRegion, size: config.defaultSize }, metrics: parts.gitops })]
      : [];
    runner.register(...(lifecycle?.reconcilers ?? []), tools, ...gitops, ...(options.reconcilers ?? []));
    const specChanges = new SpecChangeSource({ database, sink: runner, logger: logger.child({ component: 'spec-changes' }) });
    // What followers' agents said, forwarded (see AgentEventSource).
    const forwarded = new SpecChangeSource({
      database,
      sink: runner,
      channel: AGENT_EVENTS_CHANNEL,
      source: 'agent',
      logger: logger.child({ component: 'agent-events' }),
    });
    runner.watch(specChanges, forwarded, parts.agentEvents, ...(lifecycle ? [lifecycle.sweeper] : []));
  } catch (error) {
    await closeLifecycle({ lifecycle, localDroplets });
    throw error;
  }
  const elector = buildElector(database, setup, registry, [...(lifecycle?.leaderComponents ?? []), runner]);
  return { elector, lifecycle, localDroplets };
}

/** The HTTP server with its routes (health, the API, the package shelf, the agent releases, the GitHub webhook), the agent hub and the MCP gateway. */
function buildServing(database: Database, setup: Setup, registry: Registry, agentEvents: AgentEventSource | undefined) {
  const { config, logger, options } = setup;
  const router = new Router();
  const tls = config.tlsCertFile && config.tlsKeyFile ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile } : undefined;
  const http = new HttpServer({ host: config.host, port: config.port, router, logger, tls });
  const { hub, gateway } = buildHub(database, setup, { http, registry, agentEvents });
  addHealthRoutes(router, { db: database.db, draining: () => hub.draining });
  addConsoleRoutes(router, config.consoleDir ? { dir: config.consoleDir } : {});
  const { settings: gitopsSettings, metrics: gitops } = buildGitopsIntake(database, setup, { router, registry });
  const api = new Api({
    db: database.db,
    logger,
    defaults: { region: config.defaultRegion, size: config.defaultSize },
    sessionTtlMs: config.sessionTtlMs,
    ...(options.secrets ? { secrets: options.secrets } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.eventPollMs ? { eventPollMs: options.eventPollMs } : {}),
    ...(options.eventStreams ? { eventStreams: options.eventStreams } : {}),
    metrics: options.metrics ?? registry,
    gateway: gateway.endpoint,
    gitops: gitopsSettings,
  });
  api.mount(router);
  const shelf = new PackageShelf({ dir: stateDir(config, 'packages'), logger, publicUrl: () => publicHttpUrl(config, http.url) });
  shelf.mount(router);
  const releases = new AgentReleases({
    ...(config.agentReleasesDir ? { dir: config.agentReleasesDir } : {}),
    ...(config.agentVersion ? { version: config.agentVersion } : {}),
    publicUrl: () => publicHttpUrl(config, http.url),
    logger: logger.child({ component: 'agent-releases' }),
  });
  releases.mount(router);
  return { http, api, hub, gateway, shelf, releases, gitops };
}

/** GitOps' settings and metrics, and its GitHub webhook on the router (when GitOps is on). */
function buildGitopsIntake(database: Database, { config, logger }: Setup, at: { router: Router; registry: Registry }) {
  const settings = gitopsSettingsOf(config);
  if (!settings) return { settings, metrics: undefined };
  const metrics = gitopsMetrics(at.registry, database.db);
  new GitHubWebhook({ db: database.db, settings, logger, metrics }).mount(at.router);
  return { settings, metrics };
}

/** The agent hub and the MCP gateway that calls tools through it (and hears its agents' tool reports). */
function buildHub(database: Database, { config, logger, options }: Setup, with_: { http: HttpServer; registry: Registry; agentEvents: AgentEventSource | undefined }) {
  const heard: { gateway?: Gateway } = {};
  const hub = new AgentHub({
    heartbeatIntervalMs: config.agentHeartbeatMs,
    // The same name in agent sessions and commands' `sent_by` as in the lease and the logs.
    ...(config.replicaId ? { replicaId: config.replicaId } : {}),
    replicaUrl: () => config.gatewayInternalUrl ?? internalUrlOf(with_.http.url),
    ...options.hub,
    ...(options.clock ? { clock: options.clock } : {}),
    secrets: options.hub?.secrets ?? secretResolver(database.db, options.secrets, with_.registry),
    onAgentEvent: (event) => {
      options.hub?.onAgentEvent?.(event);
      with_.agentEvents?.onAgentEvent(event);
      heard.gateway?.onAgentEvent(event);
    },
    database,
    http: with_.http,
    logger: logger.child({ component: 'hub' }),
  });
  const gateway = new Gateway({
    database,
    hub,
    logger: logger.child({ component: 'gateway' }),
    clock: options.clock ?? systemClock,
    settings: config,
    registry: with_.registry,
  });
  heard.gateway = gateway;
  return { hub, gateway };
}

/** The loop's runner, with no reconcilers yet (they and the sources are registered on it). */
function buildRunner(database: Database, { config, logger, options }: Setup, registry: Registry, fence: () => Fence): LoopRunner {
  return new LoopRunner({
    db: database.db,
    logger: logger.child({ component: 'loop' }),
    clock: options.clock,
    registry,
    workersPerKind: config.reconcileWorkers,
    timeoutMs: config.reconcileTimeoutMs,
    rateLimit: { perSecond: config.reconcileRate, burst: Math.max(1, Math.ceil(config.reconcileRate / 10)) },
    resyncIntervalMs: config.resyncIntervalMs,
    // A leader that gives up its lease must be done before the lease can expire (see leader.ts).
    stopGraceMs: Math.max(100, Math.floor(config.leaseRenewMs / 2)),
    // Read per reconcile, once the elector exists.
    fence,
  });
}

/** The leader elector: starts `leaderOnly` in order on gaining the lease, stops them in reverse on losing it. */
function buildElector(database: Database, { config, logger, options }: Setup, registry: Registry, leaderOnly: Component[]): LeaderElector {
  return new LeaderElector({
    db: database.db,
    logger,
    components: leaderOnly,
    ttlMs: config.leaseTtlMs,
    renewEveryMs: config.leaseRenewMs,
    identity: config.replicaId,
    clock: options.clock,
    registry,
  });
}

/** The droplet lifecycle, feeding `runner`; with local droplets when asked for and no real DigitalOcean. */
async function buildLifecycle(database: Database, setup: Setup, at: { runner: LoopRunner; registry: Registry; http: HttpServer; releases: AgentReleases }) {
  const { config, logger, options } = setup;
  if (options.lifecycle === false) return { lifecycle: undefined, localDroplets: undefined };
  const seams = options.lifecycle ?? {};
  const localDroplets = seams.simulatorHooks ? undefined : localDropletsOf(setup);
  const simulatorHooks = seams.simulatorHooks ?? localDroplets?.hooks;
  const lifecycle = await createLifecycle({
    config,
    db: database.db,
    logger,
    sink: at.runner,
    registry: at.registry,
    defaultAgentUrl: () => agentUrlOf(at.http.url),
    agentRelease: () => at.releases.pin()!,
    ...(seams.beforeDelete ? { beforeDelete: seams.beforeDelete } : {}),
    ...(seams.renderUserData ? { renderUserData: seams.renderUserData } : {}),
    ...(simulatorHooks ? { simulatorHooks } : {}),
  });
  return { lifecycle, localDroplets };
}

function localDropletsOf({ config, logger }: Setup): LocalDroplets | undefined {
  if (!config.localDroplets || config.digitaloceanToken) return undefined;
  const log = logger.child({ component: 'local-droplets' });
  return createLocalDroplets({
    root: stateDir(config, 'droplets'),
    runtimes: config.localDockerSocket ? ['process', 'docker'] : ['process'],
    ...(config.localDockerSocket ? { dockerSocket: config.localDockerSocket } : {}),
    log: (line) => log.info(line),
  });
}

/** The agents' URL on this server (`ws://…/agent/v1`), loopback for a wildcard bind. */
/** Where the other replicas reach this one (gateway forwarding): the listening address, a wildcard one as the host's name. */
export function internalUrlOf(httpUrl: string): string {
  const url = new URL(httpUrl);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = hostname();
  return url.toString().replace(/\/$/, '');
}

export function agentUrlOf(httpUrl: string): string {
  const url = new URL(httpUrl);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = '/agent/v1';
  return url.toString();
}

/** The HTTP base droplets reach this controller at: from TOOLBELT_AGENT_URL, else the server's. */
export function publicHttpUrl(config: Config, serverUrl: string): string {
  const url = new URL(config.agentUrl ?? agentUrlOf(serverUrl));
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '';
  return url.toString().replace(/\/$/, '');
}

/** Where local state goes: the data dir, or a fresh temporary one for an in-memory database. */
function stateDir(config: Config, name: string): string {
  if (config.dataDir.startsWith('memory://')) return mkdtempSync(join(tmpdir(), `toolbelt-${name}-`));
  // Absolute: `npm pack` and the local droplets' agents run in other working directories.
  return resolve(config.dataDir, name);
}
