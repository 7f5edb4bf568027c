/**
 * Tools on droplets with the docker runtime, end to end — the same whole life the process
 * runtime's test walks: the API switches an agent's environment on → the embedded simulator
 * creates a droplet → a real droplet agent boots from its user_data (local droplets) with the
 * docker runtime on a real container engine's Docker API → the tools reconciler installs the
 * echo server's image (built by tools/echo-mcp/image/build.sh, pulled from the local
 * registry) with a secret → an MCP client calls it at its reported endpoint → config change
 * (a new container), secret rotation, stop (the container stops), start, removal (the
 * container goes) → the environment switched off with a second tool still running → droplet
 * gone, credentials revoked, no container and no agent process left, the second tool kept in
 * the toolbelt. The endpoint is the droplet's public address (127.0.0.1 for a local droplet).
 * The secret is in no label and no log line.
 * Needs the container engine and registry `scripts/install-container-engine.sh` sets up.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describeEachDatabase, describeIf } from '@toolbelt/schema/testing';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { fingerprintOf, switchOffLeavingNothing, ToolHandle } from '../support/tool-flow.ts';
import { type E2E, startE2E } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';
import { tryMcpTool } from '../support/mcp.ts';

const SOCKET = process.env.TOOLBELT_TEST_DOCKER_SOCKET ?? '/run/toolbelt-podman.sock';
const BUILD = fileURLToPath(new URL('../../../tools/echo-mcp/image/build.sh', import.meta.url));
const available = existsSync(SOCKET);
const SECRET = `docker-secret-${Math.random().toString(36).slice(2)}`;
const ROTATED = `${SECRET}-rotated`;

interface Container {
  Id: string;
  State: string;
  Labels: Record<string, string>;
}

async function docker<T>(path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: SOCKET, path: `/v1.41${path}` }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(JSON.parse(body) as T));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The engine's containers carrying `label` (`key=value`), stopped ones too. */
const containersLabelled = (label: string) =>
  docker<Container[]>(`/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`);

/** The process ids of running droplet agents whose command line names `dataDir`. */
function agentProcessesUnder(dataDir: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(dataDir) && line.includes('agent.json'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** Adds a copy of the echo image as a second catalog tool on a port of its own, runs it; its id. */
async function keepRunning(e: E2E, agent: string): Promise<string> {
  const { tool_name: _name, id: _id, generation: _g, created_at: _c, updated_at: _u, ...entry } = (await e.call('GET', '/v1/catalog/echo-docker')).body;
  const copy = await e.call('POST', '/v1/catalog', { ...entry, tool_name: 'echo-docker-kept', ports: [await freePort()] });
  expect(copy.status, copy.text).toBe(201);
  const added = await e.call('POST', `/v1/agents/${agent}/tools`, { tool_name: 'echo-docker-kept' });
  expect(added.status, added.text).toBe(201);
  await new ToolHandle(e, agent, added.body.id).untilRunning(120_000);
  return added.body.id as string;
}

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

describeIf(available, `no container engine socket at ${SOCKET} (run scripts/install-container-engine.sh)`)('docker runtime', () => {
  beforeAll(() => {
    execFileSync(BUILD, [], { stdio: 'ignore', timeout: 300_000 });
  }, 320_000);

  describeEachDatabase('tools end to end (docker runtime)', (t) => {
    it(
      'runs the echo image with its secret through its whole life, and leaves no container behind',
      async () => {
        const e = (e2e = await startE2E(t, { TOOLBELT_LOCAL_DOCKER_SOCKET: SOCKET }));
        const port = await freePort();
        expect((await e.call('PATCH', '/v1/catalog/echo-docker', { ports: [port] })).status).toBe(200);
        expect((await e.call('POST', '/v1/agents', { name: 'dock', environment: { active: true } })).status).toBe(201);
        expect((await e.call('PUT', '/v1/agents/dock/secrets/s', { value: SECRET })).status).toBeLessThan(300);
        const added = await e.call('POST', '/v1/agents/dock/tools', { tool_name: 'echo-docker', config_details: { prefix: 'c: ' }, secret_refs: { ECHO_SECRET: 's' } });
        expect(added.status, added.text).toBe(201);
        const tool = new ToolHandle(e, 'dock', added.body.id);
        const mine = () => containersLabelled(`toolbelt.tool-instance-id=${tool.id}`);

        // Pulled, created, started, healthy: its endpoint (at the droplet's address) and MCP tools are known.
        const running = await tool.untilRunning(240_000);
        expect(running.endpoints).toEqual([{ host: '127.0.0.1', port, path: '/mcp', transport: 'mcp-http' }]);
        expect(running.capabilities.tools.map((x: { name: string }) => x.name).sort()).toEqual(['echo', 'secret_fingerprint']);
        expect(running.observed_generation).toBe(running.generation);
        const endpoint = running.endpoints[0];
        await tool.expectInToolbelt(endpoint);
        expect(await tryMcpTool(endpoint, 'echo', { text: 'hi' })).toBe('c: hi');
        expect(await tryMcpTool(endpoint, 'secret_fingerprint')).toBe(fingerprintOf(SECRET));
        const [first, ...more] = await mine();
        expect(more).toEqual([]);
        expect(first!.State).toBe('running');

        // A config change: a new container with the new setting and the secret again, the old
        // one gone. A rotated secret: the same, with the new value.
        await tool.reconfigure(endpoint, 'd: ');
        const reconfigured = await mine();
        expect(reconfigured.map((c) => c.State)).toEqual(['running']);
        expect(reconfigured[0]!.Id).not.toBe(first!.Id);
        expect(await tryMcpTool(endpoint, 'secret_fingerprint')).toBe(fingerprintOf(SECRET));
        await tool.rotateSecret(endpoint, 's', ROTATED);
        const [current, ...others] = await mine();
        expect(others).toEqual([]);
        expect(current!.Id).not.toBe(reconfigured[0]!.Id);
        for (const value of [SECRET, ROTATED]) {
          expect(JSON.stringify(current!.Labels)).not.toContain(value);
          expect(Buffer.from(current!.Labels['toolbelt.spec'] ?? '', 'base64').toString()).not.toContain(value);
        }

        // Stop: the container stays, stopped; start: the same container runs and answers again.
        await tool.stopAndStart(endpoint, 'd: ', async () => {
          expect((await mine()).map((c) => [c.Id, c.State])).toEqual([[current!.Id, 'exited']]);
        });
        expect((await mine()).map((c) => [c.Id, c.State])).toEqual([[current!.Id, 'running']]);
        expect(await tryMcpTool(endpoint, 'secret_fingerprint')).toBe(fingerprintOf(ROTATED));

        // Removed: the container is deleted, then the row goes.
        await tool.remove(endpoint);
        expect(await mine()).toEqual([]);

        // A second tool still runs when the environment is switched off: the droplet goes with
        // its container and its agent; the tool stays in the toolbelt, with no endpoint.
        const kept = await keepRunning(e, 'dock');
        const environment = (await e.call('GET', '/v1/agents/dock')).body.environment;
        const scope = e.controller.localDroplets!.dockerScopeOf(environment.droplet_id);
        expect((await containersLabelled(`toolbelt.scope=${scope}`)).map((c) => c.State)).toEqual(['running']);
        await switchOffLeavingNothing(e, 'dock', running.environment_id, [kept]);
        expect(await containersLabelled(`toolbelt.scope=${scope}`)).toEqual([]);
        expect(agentProcessesUnder(e.dataDir)).toEqual([]);
        for (const value of [SECRET, ROTATED]) expect(e.logs.filter((l) => l.includes(value))).toEqual([]);
      },
      400_000,
    );
  });
});
