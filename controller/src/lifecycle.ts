/**
 * The droplet lifecycle's parts: the DigitalOcean provider (or, without a token, an embedded
 * simulator — the zero-setup quick start), the fleet cache and its sweep source, the create
 * batcher, and the environment, orphan and firewall reconcilers. Its sources and the batcher
 * put keys on the runner they are given; the composition root (controller.ts) registers the
 * reconcilers and the sweep source on that runner. Before a droplet is deleted its tools are
 * stopped (`stopEnvironmentTools`, bounded), unless `beforeDelete` says otherwise.
 */
import {
  type BeforeDelete,
  CreateBatcher,
  createEnvironmentReconciler,
  createFirewallReconciler,
  createOrphanReconciler,
  createProvider,
  enrollmentUserData,
  ENVIRONMENT_KIND,
  FleetCache,
  fleetFirewallName,
  ORPHANS_KEY,
  ORPHANS_KIND,
  type Provider,
  type Reconciler,
  type RenderUserData,
  stopEnvironmentTools,
} from '@toolbelt/reconcilers';
import { type Clock, type Db, systemClock } from '@toolbelt/schema';
import { renderAgentUserData } from '@toolbelt/schema/cloud-init';
import { readAgentCa } from './http/tls.ts';
import { type Simulator, type SimulatorHooks, startSimulator } from '@toolbelt/simulator';
import type { Registry } from 'prom-client';
import type { PinnedRelease } from './agent-releases.ts';
import type { Component } from './component.ts';
import type { LifecycleConfig } from './lifecycle-config.ts';
import type { Logger } from './logger.ts';
import type { KeySink } from './loop/runner.ts';
import { FleetSweepSource } from './sources/fleet-sweep.ts';

export interface LifecycleOptions {
  config: LifecycleConfig;
  db: Db;
  logger: Logger;
  /** Where the sweep source and the batcher put keys: the loop's runner. */
  sink: KeySink;
  registry?: Registry;
  clock?: Clock;
  /** The URL agents dial when TOOLBELT_AGENT_URL is unset (read at create time: the port may be 0 until the server listens). */
  defaultAgentUrl: () => string;
  /** The agent release new droplets install, pinned by URL and SHA-256 (read at create time). */
  agentRelease: () => PinnedRelease;
  /** Stops an environment's tools before its droplet goes (default: stop commands, waited for up to 10 s each). */
  beforeDelete?: BeforeDelete;
  /** Hooks of the embedded simulator, e.g. `onBoot` starting a real droplet agent from user_data. */
  simulatorHooks?: SimulatorHooks;
  /** Renders user_data for a batch's enrollment token (default: the agent's cloud-init bootstrap). */
  renderUserData?: RenderUserData;
}

export interface Lifecycle {
  provider: Provider;
  /** The embedded simulator when no DigitalOcean token is configured. */
  simulator: Simulator | undefined;
  cache: FleetCache;
  batcher: CreateBatcher;
  /** The fleet sweep: a source to register on the runner. */
  sweeper: FleetSweepSource;
  reconcilers: Reconciler[];
  /** Run only on the leader, before the loop's runner starts and after it stops (the batcher). */
  leaderComponents: Component[];
  /** Closes the provider's connections and the embedded simulator. */
  close(): Promise<void>;
}

async function connect(options: LifecycleOptions): Promise<{ provider: Provider; simulator: Simulator | undefined }> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const providerLogger = logger.child({ component: 'digitalocean' });
  if (config.digitaloceanToken) {
    const provider = createProvider({ token: config.digitaloceanToken, apiUrl: config.digitaloceanApiUrl, clock, logger: providerLogger });
    return { provider, simulator: undefined };
  }
  const simulator = await startSimulator({ port: config.simulatorPort, bootDelayMs: config.simulatorBootMs, ...options.simulatorHooks });
  logger.info(
    { simulator: simulator.url },
    `no DIGITALOCEAN_TOKEN: running an embedded DigitalOcean simulator at ${simulator.url} (droplets are simulated; set DIGITALOCEAN_TOKEN for real ones)`,
  );
  const provider = createProvider({ token: simulator.token, apiUrl: simulator.url, clock, logger: providerLogger });
  return { provider, simulator };
}

function defaultRender(options: LifecycleOptions): RenderUserData {
  const { config } = options;
  // Read once at start: a missing or bad CA file stops the controller with advice.
  const controllerCa = config.agentCaFile ? readAgentCa(config.agentCaFile) : undefined;
  return ({ enrollmentToken }) => {
    const release = options.agentRelease();
    return renderAgentUserData({
      controllerUrl: config.agentUrl ?? options.defaultAgentUrl(),
      enrollmentToken,
      agentVersion: release.version,
      agentReleaseUrl: release.url,
      agentReleaseSha256: release.sha256,
      nodeDistUrl: config.nodeDistUrl,
      nodeVersion: config.nodeVersion,
      // The agent heartbeats at this interval from its start (welcome repeats it on every connection).
      heartbeatIntervalMs: config.agentHeartbeatMs,
      ...(controllerCa ? { controllerCa } : {}),
    });
  };
}

/** The default `beforeDelete`: stops the environment's tools and waits for the answers. */
function stopToolsFirst({ db, logger }: LifecycleOptions): BeforeDelete {
  return async (env, signal) => {
    const result = await stopEnvironmentTools(db, env.environmentId, { signal, stopTimeoutMs: 10_000 });
    if (result.asked > 0) logger.child({ component: 'tools' }).info({ environmentId: env.environmentId, ...result }, 'stopped tools before deleting the droplet');
  };
}

/** Wraps the batcher as a leader-only component. */
function batcherComponent(batcher: CreateBatcher): Component {
  return { name: 'create-batcher', needsLeadership: true, start: async (signal) => batcher.start(signal), stop: () => batcher.stop() };
}

function reconcilersOf(options: LifecycleOptions, parts: { provider: Provider; cache: FleetCache; batcher: CreateBatcher }): Reconciler[] {
  const { config } = options;
  const { provider, cache, batcher } = parts;
  const reconcilers: Reconciler[] = [
    createEnvironmentReconciler({
      provider,
      fleet: cache,
      batcher,
      beforeDelete: options.beforeDelete ?? stopToolsFirst(options),
      timings: {
        agentRequired: config.agentRequired,
        helloGraceMs: config.agentHelloGraceMs,
        silenceGraceMs: config.agentSilenceGraceMs,
        replaceAfterMs: config.replaceAfterMs,
        bootTimeoutMs: config.bootTimeoutMs,
        quotaRetryMs: config.quotaRetryMs,
        bootRetries: config.bootRetries,
        bootRetryDelayMs: config.bootRetryDelayMs,
      },
    }),
    createOrphanReconciler({ fleet: cache, provider, graceMs: config.orphanGraceMs, dryRun: config.orphanDryRun }),
  ];
  if (config.firewall) {
    const policy = { name: fleetFirewallName(config.fleetTag), fleetTag: config.fleetTag, adminCidrs: config.adminCidrs, toolSourceCidrs: config.toolSourceCidrs };
    reconcilers.push(createFirewallReconciler({ provider, policy }));
  }
  return reconcilers;
}

/** Connects to DigitalOcean (or starts the embedded simulator) and builds the lifecycle. */
export async function createLifecycle(options: LifecycleOptions): Promise<Lifecycle> {
  const { config, db, logger } = options;
  const clock = options.clock ?? systemClock;
  const { provider, simulator } = await connect(options);
  const { sink } = options;
  const cache = new FleetCache({ clock });
  const batcher = new CreateBatcher({
    provider,
    fleet: cache,
    clock,
    tags: [config.fleetTag],
    // For debugging a droplet by hand; the fleet firewall opens SSH only to TOOLBELT_ADMIN_CIDRS.
    ...(config.sshKeys.length > 0 ? { shared: { sshKeys: config.sshKeys } } : {}),
    windowMs: config.createBatchWindowMs,
    maxWaitMs: Math.max(config.createBatchWindowMs, 5_000),
    userData: enrollmentUserData({ db, clock, render: options.renderUserData ?? defaultRender(options) }),
    onSettled: (target) => sink.enqueue(target.kind, target.key, { source: 'create' }),
  });
  const sweeper = new FleetSweepSource({
    provider,
    cache,
    fleetTag: config.fleetTag,
    sink,
    db,
    clock,
    logger: logger.child({ component: 'fleet-sweep' }),
    registry: options.registry,
    timings: { fastIntervalMs: config.sweepFastMs, steadyIntervalMs: config.sweepSteadyMs },
    environmentKind: ENVIRONMENT_KIND,
    orphans: { kind: ORPHANS_KIND, key: ORPHANS_KEY },
  });
  return {
    provider,
    simulator,
    cache,
    batcher,
    sweeper,
    reconcilers: reconcilersOf(options, { provider, cache, batcher }),
    leaderComponents: [batcherComponent(batcher)],
    async close() {
      provider.close();
      await simulator?.close();
    },
  };
}
