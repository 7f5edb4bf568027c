/**
 * The steps of a tool's whole life that the end-to-end tests of both runtimes walk alike:
 * a handle on one tool instance (wait until it runs, until its current generation is
 * applied), stop and start, removal, and the environment switched off with nothing left.
 * Each runtime's test adds what only it can see (its processes, its containers).
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { rowsOf } from '@toolbelt/schema';
import { expect } from 'vitest';
import { type E2E } from './e2e.ts';
import { eventually } from './eventually.ts';
import { type EndpointLike, tryMcpTool } from './mcp.ts';

/** The echo server's `secret_fingerprint` of a value. */
export const fingerprintOf = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 16);

interface ToolLike {
  status: string;
  generation: number;
  observed_generation: number;
  conditions: { type: string; status: string }[];
}

const ready = (tool: ToolLike) => tool.conditions.find((c) => c.type === 'Ready')?.status === 'True';

/** Commands and observations, for a failure message. */
export async function debugDump(e: E2E): Promise<string> {
  const db = e.controller.database.db;
  const commands = rowsOf(await db.execute(sql`select command_type, generation, status, result, created_at, finished_at from commands order by created_at`));
  const observations = rowsOf(await db.execute(sql`select report, observed_at from agent_tool_observations`));
  return JSON.stringify({ commands, observations }, null, 1).slice(0, 20_000);
}

/** One tool instance of one agent, through the API. */
export class ToolHandle {
  readonly path: string;

  constructor(
    readonly e: E2E,
    readonly agent: string,
    readonly id: string,
  ) {
    this.path = `/v1/agents/${agent}/tools/${id}`;
  }

  // Tests read answers loosely; the assertions check their shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async get(): Promise<any> {
    return (await this.e.call('GET', this.path)).body;
  }

  async describe(): Promise<string> {
    return `${JSON.stringify(await this.get())}\n${await debugDump(this.e)}`;
  }

  async patch(body: Record<string, unknown>): Promise<void> {
    const answer = await this.e.call('PATCH', this.path, body);
    expect(answer.status, answer.text).toBe(200);
  }

  /** Waits until the tool runs, is Ready and reports an endpoint; resolves to its view. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async untilRunning(timeoutMs: number): Promise<any> {
    return eventually(async () => {
      const tool = await this.get();
      return tool.status === 'running' && ready(tool) && tool.endpoints.length > 0 ? tool : undefined;
    }, () => this.describe(), timeoutMs);
  }

  /**
   * The agent platform's view lists the tool at `endpoint`, on the droplet's public address
   * (a local droplet's is 127.0.0.1: it runs on this machine).
   */
  async expectInToolbelt(endpoint: EndpointLike): Promise<void> {
    const view = (await this.e.call('GET', `/v1/agents/${this.agent}/toolbelt`)).body;
    expect(view.environment.ip_address).toBe('127.0.0.1');
    expect(endpoint.host).toBe(view.environment.ip_address);
    expect(view.tools.find((t: { id: string }) => t.id === this.id)?.endpoints).toEqual([expect.objectContaining(endpoint)]);
  }

  /** Waits until the agent's report matches the current generation and the tool is Ready. */
  async untilCurrent(): Promise<void> {
    await eventually(async () => {
      const tool: ToolLike = await this.get();
      return tool.observed_generation === tool.generation && ready(tool);
    }, () => this.describe());
  }

  /** Changes the echo prefix; waits until the endpoint answers with it and the tool is current. */
  async reconfigure(endpoint: EndpointLike, prefix: string): Promise<void> {
    await this.patch({ config_details: { prefix } });
    await eventually(async () => (await tryMcpTool(endpoint, 'echo', { text: 'hi' })) === `${prefix}hi`, () => `the prefix "${prefix}" never answered`);
    await this.untilCurrent();
  }

  /** Writes a new value of the agent's secret `name`; waits until the tool sees it (restarted with it). */
  async rotateSecret(endpoint: EndpointLike, name: string, value: string): Promise<void> {
    const answer = await this.e.call('PUT', `/v1/agents/${this.agent}/secrets/${name}`, { value });
    expect(answer.status, answer.text).toBeLessThan(300);
    await eventually(async () => (await tryMcpTool(endpoint, 'secret_fingerprint')) === fingerprintOf(value), () => 'the rotated secret never arrived');
    await this.untilCurrent();
  }

  /**
   * Stops the tool (status `stopped`, the endpoint unreachable, then `whileStopped` for the
   * runtime's own view) and starts it again (it answers with `prefix`).
   */
  async stopAndStart(endpoint: EndpointLike, prefix: string, whileStopped: () => Promise<void>): Promise<void> {
    await this.patch({ desired_state: 'stopped' });
    await eventually(async () => (await this.get()).status === 'stopped', () => this.describe());
    expect(await tryMcpTool(endpoint, 'echo', { text: 'hi' })).toMatch(/^unreachable/);
    await whileStopped();
    await this.patch({ desired_state: 'running' });
    await eventually(async () => (await tryMcpTool(endpoint, 'echo', { text: 'back' })) === `${prefix}back`, () => 'the tool did not start again');
    await eventually(async () => (await this.get()).status === 'running', () => this.describe());
  }

  /** Removes the tool: uninstalled by the agent, the row gone, the endpoint silent, every step an event. */
  async remove(endpoint: EndpointLike): Promise<void> {
    const answer = await this.e.call('DELETE', this.path);
    expect(answer.status, answer.text).toBe(202);
    await eventually(async () => (await this.e.call('GET', this.path)).status === 404, () => this.describe());
    expect(await tryMcpTool(endpoint, 'echo', { text: 'hi' })).toMatch(/^unreachable/);
    const events = (await this.e.call('GET', `/v1/events?object=tool/${this.id}&limit=200`)).body.items.map((x: { reason: string }) => x.reason);
    expect(events).toEqual(
      expect.arrayContaining(['ToolInstalling', 'ToolConfiguring', 'ToolStopping', 'ToolStarting', 'ToolUninstalling', 'ToolRemoved', 'CapabilitiesDiscovered']),
    );
  }
}

/**
 * Switches the agent's environment off and waits until nothing of it is left: no droplet in
 * the simulator, no local droplet's agent running, the droplet's credentials revoked (a used
 * enrollment token is spent already), no reported tools. The toolbelt outlives the droplet:
 * the rows of `kept` tools stay (with no endpoint), no others.
 */
export async function switchOffLeavingNothing(e: E2E, agent: string, environmentId: string, kept: readonly string[] = []): Promise<void> {
  const off = await e.call('PUT', `/v1/agents/${agent}/environment`, { active: false });
  expect(off.status, off.text).toBe(200);
  const simulator = e.controller.lifecycle!.simulator!;
  await eventually(async () => {
    const droplets = (await (await fetch(`${simulator.url}/droplets`, { headers: { authorization: `Bearer ${simulator.token}` } })).json()) as { droplets: unknown[] };
    return droplets.droplets.length === 0 && e.controller.localDroplets!.running().length === 0;
  }, () => 'the droplet is still there');
  const db = e.controller.database.db;
  const credentials = async () =>
    rowsOf<{ kind: string; used_at: unknown; revoked_at: unknown }>(
      await db.execute(sql`select kind, used_at, revoked_at from droplet_credentials where agent_droplet_id = ${environmentId}`),
    );
  await eventually(async () => {
    const all = await credentials();
    const agentCredentials = all.filter((c) => c.kind !== 'enrollment');
    return agentCredentials.length > 0 && all.every((c) => c.revoked_at !== null || (c.kind === 'enrollment' && c.used_at !== null));
  }, async () => `credentials: ${JSON.stringify(await credentials())}`);
  const reported = async () => rowsOf(await db.execute(sql`select tool_instance_id from agent_tool_observations`));
  await eventually(async () => (await reported()).length === 0, async () => `reports of a droplet that is gone: ${JSON.stringify(await reported())}`);
  const rows = async () => rowsOf<{ id: string; endpoints: unknown }>(await db.execute(sql`select id, endpoints from agent_droplet_tools order by id`));
  const wanted = JSON.stringify([...kept].sort().map((id) => ({ id, endpoints: [] })));
  await eventually(async () => JSON.stringify(await rows()) === wanted, async () => `tool rows: ${JSON.stringify(await rows())}, wanted ${wanted}`);
}
