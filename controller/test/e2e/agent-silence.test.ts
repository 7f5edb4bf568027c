/**
 * The lifecycle's recovery ladder for a silent agent, end to end: the whole controller with
 * the embedded simulator whose droplets are real droplet agent processes (local droplets),
 * Ready waiting for the agent (the default), short graces.
 *
 * 1. The agent is killed (SIGKILL: its socket closes, no more heartbeats) → Unreachable →
 *    the droplet is power-cycled (a local power cycle restarts the agent on the same disk) →
 *    the agent says hello again → Ready, on the same droplet.
 * 2. The agent is killed and its stored credential lost (its enrollment token is spent): the
 *    power cycle does not bring it back → after the replace grace the droplet is replaced →
 *    the new droplet's agent enrolls with a fresh token → Ready, on a new droplet.
 * The agent's echo MCP tool answers before, after the power cycle and on the replacement
 * droplet (the whole toolbelt comes back). Every step is told by an event an operator can read.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterEach, expect, it } from 'vitest';
import { type E2E, startE2E } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';
import { eventually } from '../support/eventually.ts';
import { tryMcpTool } from '../support/mcp.ts';

const GRACES: Record<string, string> = {
  TOOLBELT_AGENT_HEARTBEAT_MS: '1000',
  TOOLBELT_AGENT_SILENCE_GRACE_MS: '3000',
  // Long enough for a power-cycled agent to boot and say hello on a busy machine.
  TOOLBELT_REPLACE_AFTER_MS: '20000',
  TOOLBELT_AGENT_HELLO_GRACE_MS: '60000',
};

interface Environment {
  status: string;
  droplet_id: number | null;
  conditions: { type: string; status: string; reason: string }[];
}

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

const ready = (env: Environment) => env.conditions.find((c) => c.type === 'Ready')?.status === 'True';

/** Polls the environment, remembering every status it passed through. */
function watch(e: E2E, agent: string) {
  const seen = new Set<string>();
  const get = async (): Promise<Environment> => {
    const env = (await e.call('GET', `/v1/agents/${agent}/environment`)).body as Environment;
    seen.add(env.status);
    return env;
  };
  const readyOn = (predicate: (env: Environment) => boolean, what: string) =>
    eventually(
      async () => {
        const env = await get();
        return ready(env) && env.status === 'active' && predicate(env) ? env : undefined;
      },
      async () => `${what}: ${JSON.stringify(await get())}; events ${JSON.stringify(await reasons(e, agent))}`,
      120_000,
    );
  return { seen, get, readyOn };
}

/** The environment's events, oldest first (a repeated event is one row with a count). */
async function events(e: E2E, agent: string): Promise<{ reason: string; count: number }[]> {
  const env = (await e.call('GET', `/v1/agents/${agent}`)).body as { id: string };
  const answer = (await e.call('GET', `/v1/events?object=environment/${env.id}&limit=200`)).body as { items: { reason: string; count: number }[] };
  return answer.items.reverse();
}

const reasons = async (e: E2E, agent: string) => (await events(e, agent)).map((x) => x.reason);

/** Waits until the agent's echo tool runs and answers through its reported endpoint. */
async function echoAnswers(e: E2E, toolPath: string, word: string): Promise<void> {
  const get = async () => (await e.call('GET', toolPath)).body as { status: string; endpoints: { host: string; port: number; path: string }[] };
  let last = '';
  await eventually(
    async () => {
      const tool = await get();
      const endpoint = tool.endpoints[0];
      if (tool.status !== 'running' || !endpoint) return false;
      last = await tryMcpTool(endpoint, 'echo', { text: word });
      return last === `q: ${word}`;
    },
    async () => `the echo tool does not answer (${last}): ${JSON.stringify(await get())}`,
    180_000,
  );
}

function killAgent(e: E2E, dropletId: number): void {
  const pid = e.controller.localDroplets!.agentPid(dropletId);
  expect(pid, `droplet ${dropletId} runs an agent`).toBeDefined();
  process.kill(pid!, 'SIGKILL');
}

describeEachDatabase('a silent droplet agent (local droplets, end to end)', (t) => {
  it(
    'power-cycles the droplet of a killed agent, then replaces one whose agent cannot come back',
    async () => {
      const e = (e2e = await startE2E(t, GRACES));
      // The seeded echo tool, on a port free on this machine (local droplets share its network).
      expect((await e.call('PATCH', '/v1/catalog/echo', { ports: [await freePort()] })).status).toBe(200);
      expect((await e.call('POST', '/v1/agents', { name: 'quiet', environment: { active: true } })).status).toBe(201);
      const added = await e.call('POST', '/v1/agents/quiet/tools', { tool_name: 'echo', config_details: { prefix: 'q: ' } });
      expect(added.status, added.text).toBe(201);
      const toolPath = `/v1/agents/quiet/tools/${added.body.id}`;
      const env = watch(e, 'quiet');
      const first = await env.readyOn(() => true, 'the agent never connected');
      const dropletId = first.droplet_id!;
      expect(first.conditions.find((c) => c.type === 'AgentConnected')).toMatchObject({ status: 'True' });
      await echoAnswers(e, toolPath, 'first');

      // 1. Killed: Unreachable, power-cycled, back on the same droplet.
      env.seen.clear();
      killAgent(e, dropletId);
      await eventually(async () => (await env.get()).status === 'unreachable', async () => JSON.stringify(await env.get()), 60_000);
      const back = await env.readyOn((x) => x.droplet_id === dropletId && env.seen.has('unreachable'), 'not Ready again after the power cycle');
      expect(back.droplet_id).toBe(dropletId);
      expect(await reasons(e, 'quiet')).toEqual(expect.arrayContaining(['PowerCycled']));
      expect(await reasons(e, 'quiet')).not.toContain('Replacing');
      await echoAnswers(e, toolPath, 'cycled');

      // 2. Killed with its credential lost: the power cycle cannot help; the droplet is replaced.
      env.seen.clear();
      rmSync(join(e.controller.localDroplets!.dirOf(dropletId), 'state', 'credential.json'), { force: true });
      killAgent(e, dropletId);
      const replaced = await env.readyOn((x) => x.droplet_id !== null && x.droplet_id !== dropletId, 'the droplet was not replaced');
      expect(env.seen.has('unreachable')).toBe(true);
      const told = await reasons(e, 'quiet');
      const cycles = (await events(e, 'quiet')).filter((x) => x.reason === 'PowerCycled').reduce((n, x) => n + x.count, 0);
      // Exactly the two silences this test caused: a healthy agent is never declared silent.
      expect(cycles, 'one power cycle per silence, no other').toBe(2);
      expect(told).toContain('Replacing');
      expect(told.lastIndexOf('Ready')).toBeGreaterThan(told.lastIndexOf('Replacing'));
      // The old droplet is gone from DigitalOcean and its agent from this machine.
      const sim = e.controller.lifecycle!.simulator!;
      expect(sim.state.listDroplets().map((d) => d.id)).toEqual([replaced.droplet_id]);
      expect(e.controller.localDroplets!.running()).toEqual([replaced.droplet_id]);
      // The replacement droplet got its whole toolbelt back.
      await echoAnswers(e, toolPath, 'replaced');
    },
    300_000,
  );
});
