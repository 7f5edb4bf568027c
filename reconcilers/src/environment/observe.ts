/**
 * Turns what the store, the fleet cache and the batcher say into the diff's plain input.
 */
import type { AgentSession, EnvironmentState } from '@toolbelt/schema';
import type { FleetCache } from '../fleet.ts';
import type { CreateBatcher } from './batcher.ts';
import type { LifecycleTimings } from './options.ts';
import type { AgentLiveness, DiffInput, RowState, Want } from './plan.ts';

const ms = (date: Date | null | undefined): number | undefined => (date ? date.getTime() : undefined);

/** Whether the environment should have a droplet, and if not, why. */
export function wantOf(state: EnvironmentState): Want {
  if (state.agent.deletion_requested_at) return { present: false, why: 'agent-deleted' };
  if (!state.agent.tool_environment_active) return { present: false, why: 'disabled' };
  return { present: true };
}

/**
 * The agent's liveness: connected when its session is open and said hello; last seen at the
 * latest of hello, heartbeat and disconnect.
 */
export function livenessOf(session: AgentSession | undefined, lastHeartbeatAt: Date | null): AgentLiveness {
  const times = [ms(lastHeartbeatAt), ms(session?.hello_at), ms(session?.disconnected_at)].filter(
    (t): t is number => t !== undefined,
  );
  return {
    connected: Boolean(session && session.hello_at && !session.disconnected_at),
    lastSeenAt: times.length > 0 ? Math.max(...times) : undefined,
  };
}

/** The diff's input for one environment. */
export function diffInputOf(
  state: EnvironmentState & { environment: NonNullable<EnvironmentState['environment']> },
  sources: { fleet: FleetCache; batcher: CreateBatcher; timings: LifecycleTimings; now: number },
): DiffInput {
  const env = state.environment;
  const row: RowState = {
    status: env.status,
    dropletId: env.droplet_id,
    ipAddress: env.ip_address,
    privateIpAddress: env.private_ip_address,
    createRequestedAt: ms(env.create_requested_at) ?? null,
    conditions: env.conditions,
    observedGeneration: env.observed_generation,
    bootFailures: env.boot_failures,
  };
  const liveness = livenessOf(state.session, env.last_heartbeat_at);
  // A connection that went quiet past the silence grace no longer counts as connected.
  const fresh = liveness.lastSeenAt !== undefined && sources.now - liveness.lastSeenAt < sources.timings.silenceGraceMs;
  return {
    now: sources.now,
    envId: env.id,
    generation: env.generation,
    want: wantOf(state),
    placement: { region: env.region, size: env.size, image: env.image },
    row,
    observed: sources.fleet.observe(env.id),
    create: sources.batcher.outcome(env.id),
    agent: { connected: liveness.connected && fresh, lastSeenAt: liveness.lastSeenAt },
    timings: sources.timings,
  };
}
