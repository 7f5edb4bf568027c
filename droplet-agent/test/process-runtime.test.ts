import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_ERROR_CODES, type ToolSpecInput } from '@toolbelt/schema/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentProcess, freePort, startAgentProcess, tempDir, testConfig } from './helpers/agent-process.ts';
import { startTestPeer, type TestPeer } from './helpers/peer.ts';

const EVERYTHING = { name: '@modelcontextprotocol/server-everything', version: '2026.8.31' };
const SECRET = `s3cr3t-${Math.random().toString(36).slice(2)}`;

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** Kills a tool process group left behind by a failed test. */
function killGroup(pid: number | undefined) {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const pidOf = (runtimeId: string | undefined) => Number(/pid (\d+)/.exec(runtimeId ?? '')?.[1]);

async function setup(secrets: Record<string, Record<string, string>> = {}) {
  const peer = await startTestPeer({ secrets });
  cleanups.push(() => peer.close());
  const config = testConfig({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken });
  const configPath = join(tempDir('toolbelt-agent-config-'), 'agent.json');
  const agents: AgentProcess[] = [];
  const start = () => {
    const agent = startAgentProcess(config, configPath);
    agents.push(agent);
    cleanups.push(() => agent.kill('SIGKILL'));
    return agent;
  };
  const agent = start();
  await peer.waitFor('credential_ack');
  return { peer, agent, start, stateDir: config.stateDir! };
}

async function install(peer: TestPeer, id: string, generation: number, tool: ToolSpecInput) {
  const result = await peer.command({ commandType: 'install', toolInstanceId: id, generation, payload: { tool } });
  expect(result.error?.reason, 'install').toBeUndefined();
  expect(result.status).toBe('done');
  return result;
}

describe('process runtime (real agent, real npm package, real MCP server)', () => {
  it('installs, runs, health-checks over stdio, injects secrets only into the tool, and survives SIGKILL of the agent', async () => {
    const { peer, agent, start, stateDir } = await setup({ t1: { EVERYTHING_TOKEN: SECRET } });
    const tool: ToolSpecInput = {
      instanceName: 'everything',
      packagingType: 'npm_package',
      packageIdentifier: EVERYTHING.name,
      version: EVERYTHING.version,
      transport: 'mcp-stdio',
      env: { PLAIN_SETTING: 'visible' },
      secretEnv: ['EVERYTHING_TOKEN'],
      // Short enough that a first check lost to a loaded machine is soon tried again.
      healthCheck: { intervalMs: 3_000 },
    };
    await install(peer, 't1', 1, tool);
    const started = await peer.command({ commandType: 'start', toolInstanceId: 't1', generation: 1, payload: {} });
    expect(started.status).toBe('done');
    const pid = pidOf(started.tool?.runtimeId);
    cleanups.push(() => killGroup(pid));
    expect(alive(pid)).toBe(true);

    // Health: a real MCP session over the agent-owned stdio pipe; tools/list is the capability list.
    const healthy = await peer.waitFor(
      'tool_status',
      (m) => m.tool.toolInstanceId === 't1' && m.tool.health.status === 'healthy',
      0,
      90_000,
    );
    expect(healthy.tool.state).toBe('running');
    expect(healthy.tool.capabilities?.serverInfo?.name).toContain('everything');
    expect(healthy.tool.capabilities?.tools.map((t) => t.name)).toContain('echo');
    // Each MCP tool with its description and input schema, as tools/list gave them.
    expect(healthy.tool.capabilities?.tools.find((t) => t.name === 'echo')).toMatchObject({ description: expect.any(String), inputSchema: { type: 'object' } });

    // The secret is in the tool's environment and nowhere else: not on disk, not in the log.
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`EVERYTHING_TOKEN=${SECRET}`);
    expect(environ).toContain('PLAIN_SETTING=visible');
    expect(() => execFileSync('grep', ['-rl', SECRET, stateDir])).toThrow(); // grep exits 1: no match
    expect(agent.log.join('\n')).not.toContain(SECRET);

    // Idempotency: the same command id again is not re-run; an older generation is refused.
    const again = await peer.command({ commandId: started.commandId, commandType: 'start', toolInstanceId: 't1', generation: 1, payload: {} });
    expect(again.duplicate).toBe(true);
    const sameGeneration = await peer.command({ commandType: 'install', toolInstanceId: 't1', generation: 1, payload: { tool } });
    expect(sameGeneration).toMatchObject({ status: 'done', duplicate: true });
    const stale = await peer.command({ commandType: 'install', toolInstanceId: 't1', generation: 0, payload: { tool } });
    expect(stale.error?.code).toBe(AGENT_ERROR_CODES.staleGeneration);

    // Logs from the bounded buffer, on request.
    const since = peer.mark();
    await peer.command({ commandType: 'get_logs', toolInstanceId: 't1', generation: 1, payload: { tail: 50 } });
    const logs = await peer.waitFor('logs', (m) => m.toolInstanceId === 't1', since);
    expect(logs.lines.some((l) => l.stream === 'stderr' && l.text.length > 0)).toBe(true);

    // SIGKILL the agent: the tool keeps running; a new agent adopts it without restarting it.
    await agent.kill('SIGKILL');
    expect(alive(pid)).toBe(true);
    const helloSince = peer.mark();
    start();
    const hello = await peer.waitFor('hello', undefined, helloSince);
    expect(hello.inventory).toHaveLength(1);
    expect(hello.inventory[0]).toMatchObject({ toolInstanceId: 't1', generation: 1, state: 'running', restarts: 0 });
    expect(pidOf(hello.inventory[0]!.runtimeId)).toBe(pid);
    // The new agent reopens the pipe and checks health again over it.
    await peer.waitFor('tool_status', (m) => m.tool.health.status === 'healthy', helloSince);

    // Stop and uninstall.
    const stopped = await peer.command({ commandType: 'stop', toolInstanceId: 't1', generation: 1, payload: { timeoutMs: 5000 } });
    expect(stopped.tool?.state).toBe('stopped');
    expect(alive(pid)).toBe(false);
    const removed = await peer.command({ commandType: 'uninstall', toolInstanceId: 't1', generation: 1, payload: {} });
    expect(removed.status).toBe('done');
    expect(existsSync(join(stateDir, 'tools', 't1'))).toBe(false);
    const gone = await peer.command({ commandType: 'uninstall', toolInstanceId: 't1', generation: 1, payload: {} });
    expect(gone).toMatchObject({ status: 'done', duplicate: true });
    // A real `npm install` from the registry: seconds when idle, much longer on a loaded machine.
  }, 180_000);

  it('health-checks an mcp-http tool over Streamable HTTP, reports its endpoint, and checks every new process afresh', async () => {
    const { peer } = await setup();
    const port = await freePort();
    const tool: ToolSpecInput = {
      instanceName: 'everything-http',
      packagingType: 'npm_package',
      packageIdentifier: EVERYTHING.name,
      version: EVERYTHING.version,
      transport: 'mcp-http',
      args: ['streamableHttp'],
      ports: [{ port }],
      // Once healthy, not checked again for an hour: only a new process may be checked sooner.
      healthCheck: { intervalMs: 3_600_000 },
    };
    await install(peer, 'http1', 1, tool);
    const started = await peer.command({ commandType: 'start', toolInstanceId: 'http1', generation: 1, payload: {} });
    cleanups.push(() => killGroup(pidOf(started.tool?.runtimeId)));
    const healthy = await peer.waitFor('tool_status', (m) => m.tool.toolInstanceId === 'http1' && m.tool.health.status === 'healthy');
    expect(healthy.tool.endpoints).toEqual([{ host: '127.0.0.1', port, path: '/mcp', transport: 'mcp-http' }]);
    expect(healthy.tool.capabilities?.tools.length).toBeGreaterThan(0);
    // Told where to listen: its port, and the address of the spec's port (loopback by default).
    const environ = readFileSync(`/proc/${pidOf(started.tool?.runtimeId)}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(expect.arrayContaining([`PORT=${port}`, 'HOST=127.0.0.1']));

    // Reconfigured (a new process): unknown until checked, then healthy — not an hour later.
    const since = peer.mark();
    const configured = await peer.command({ commandType: 'configure', toolInstanceId: 'http1', generation: 2, payload: { tool: { ...tool, env: { MODE: 'two' } } } });
    cleanups.push(() => killGroup(pidOf(configured.tool?.runtimeId)));
    expect(configured.tool).toMatchObject({ generation: 2, state: 'running', health: { status: 'unknown' } });
    await peer.waitFor('tool_status', (m) => m.tool.generation === 2 && m.tool.health.status === 'healthy', since);

    // Stopped and started again: the old process's health is not carried over to the new one.
    await peer.command({ commandType: 'stop', toolInstanceId: 'http1', generation: 2, payload: {} });
    const restartSince = peer.mark();
    const restarted = await peer.command({ commandType: 'start', toolInstanceId: 'http1', generation: 2, payload: {} });
    cleanups.push(() => killGroup(pidOf(restarted.tool?.runtimeId)));
    expect(restarted.tool?.health.status).toBe('unknown');
    await peer.waitFor('tool_status', (m) => m.tool.state === 'running' && m.tool.health.status === 'healthy', restartSince);
    await peer.command({ commandType: 'stop', toolInstanceId: 'http1', generation: 2, payload: {} });
    // Two real `npm install`s: seconds when idle, longer on a loaded machine.
  }, 120_000);

  it('restarts a crashing tool with backoff and reports a crash loop with its last output', async () => {
    const { peer } = await setup();
    const dir = tempDir('toolbelt-crashy-');
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'crashy', version: '1.0.0', bin: { crashy: 'bin/crashy.js' } }));
    writeFileSync(join(dir, 'bin', 'crashy.js'), "#!/usr/bin/env node\nconsole.error('crashy: cannot open the frobnicator');\nprocess.exit(3);\n");
    await install(peer, 'c1', 1, { instanceName: 'crashy', packagingType: 'npm_package', packageIdentifier: 'crashy', version: `file:${dir}`, transport: 'none' });
    await peer.command({ commandType: 'start', toolInstanceId: 'c1', generation: 1, payload: {} });
    const loop = await peer.waitFor('tool_status', (m) => m.tool.toolInstanceId === 'c1' && m.tool.state === 'crash_loop');
    expect(loop.tool.lastExit?.code).toBe(3);
    expect(loop.tool.restarts).toBeGreaterThanOrEqual(3);
    expect(loop.tool.reason).toContain('exited with code 3');
    expect(loop.tool.lastLogLines?.some((l) => l.text.includes('frobnicator'))).toBe(true);
    const stopped = await peer.command({ commandType: 'stop', toolInstanceId: 'c1', generation: 1, payload: {} });
    expect(stopped.tool?.state).toBe('stopped');
  });

  it('fails an install of a package that does not exist with AGENT_ERR_INSTALL_FAILED', async () => {
    const { peer } = await setup();
    const result = await peer.command({
      commandType: 'install',
      toolInstanceId: 'bad1',
      generation: 1,
      payload: { tool: { instanceName: 'bad', packagingType: 'npm_package', packageIdentifier: 'crashy', version: 'file:/nonexistent/toolbelt', transport: 'none' } },
    });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe(AGENT_ERROR_CODES.installFailed);
  });

  it('fails to start a tool whose secret the controller will not give', async () => {
    const { peer } = await setup({});
    await install(peer, 'needs-secret', 1, {
      instanceName: 'needs',
      packagingType: 'npm_package',
      packageIdentifier: EVERYTHING.name,
      version: EVERYTHING.version,
      transport: 'mcp-stdio',
      secretEnv: ['MISSING_KEY'],
    });
    const result = await peer.command({ commandType: 'start', toolInstanceId: 'needs-secret', generation: 1, payload: {} });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe(AGENT_ERROR_CODES.secretUnavailable);
  });
});
