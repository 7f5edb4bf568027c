import { join } from 'node:path';
import { AGENT_ERROR_CODES, type ToolSpecInput } from '@toolbelt/schema/protocol';
import { describeIf } from '@toolbelt/schema/testing';
import Docker from 'dockerode';
import { afterAll, afterEach, expect, it } from 'vitest';
import { type AgentProcess, freePort, startAgentProcess, tempDir, testConfig } from './helpers/agent-process.ts';
import { ENGINE_SOCKET, engineAvailable, pushTestImage, TEST_IMAGE } from './helpers/engine.ts';
import { startTestPeer } from './helpers/peer.ts';

const available = await engineAvailable();
const docker = new Docker({ socketPath: ENGINE_SOCKET });
const SECRET = `db-${Math.random().toString(36).slice(2)}`;
const ids: string[] = [];

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const id of ids) await docker.getContainer(`toolbelt-${id}`).remove({ force: true }).catch(() => {});
});

async function setup() {
  const peer = await startTestPeer({ secrets: {} });
  cleanups.push(() => peer.close());
  const config = testConfig({
    controllerUrl: peer.url,
    enrollmentToken: peer.enrollmentToken,
    runtimes: ['docker', 'process'],
    dockerSocket: ENGINE_SOCKET,
  });
  const configPath = join(tempDir('toolbelt-agent-config-'), 'agent.json');
  const start = (): AgentProcess => {
    const agent = startAgentProcess(config, configPath);
    cleanups.push(() => agent.kill('SIGKILL'));
    return agent;
  };
  const agent = start();
  await peer.waitFor('credential_ack');
  return { peer, agent, start };
}

describeIf(available, `no container engine on ${ENGINE_SOCKET} or no registry: run scripts/install-container-engine.sh`)(
  'docker runtime (real engine through the Docker Engine API, real registry)',
  () => {
    it('pulls, creates with labels and limits, runs, survives SIGKILL of the agent, reconfigures and removes', async () => {
      const tag = `t${Date.now().toString(36)}`;
      pushTestImage(tag);
      const { peer, agent, start } = await setup();
      const id = `d${tag}`;
      ids.push(id);
      const hostPort = await freePort();
      const tool: ToolSpecInput = {
        instanceName: 'httpd',
        packagingType: 'docker_image',
        packageIdentifier: TEST_IMAGE,
        version: tag,
        transport: 'http',
        ports: [{ port: 8080, hostPort }],
        env: { MODE: 'test' },
        resources: { memoryMb: 64, cpus: 0.5 },
      };
      const hello = await peer.waitFor('hello');
      expect(hello.runtimes).toContain('docker');

      // Secrets through the socket: this peer has none for the tool, so install fails cleanly.
      const refused = await peer.command({ commandType: 'install', toolInstanceId: id, generation: 1, payload: { tool: { ...tool, secretEnv: ['DB_PASSWORD'] } } });
      expect(refused.error?.code).toBe(AGENT_ERROR_CODES.secretUnavailable);

      const since = peer.mark();
      const installed = await peer.command({ commandType: 'install', toolInstanceId: id, generation: 1, payload: { tool } });
      expect(installed.error?.reason).toBeUndefined();
      expect(installed.tool?.state).toBe('installed');
      await peer.waitFor('command_result', (m) => m.commandId === installed.commandId && m.status === 'progress' && /pulling/.test(m.message ?? ''), since);

      const info = await docker.getContainer(`toolbelt-${id}`).inspect();
      expect(info.Config.Labels['toolbelt.tool-instance-id']).toBe(id);
      expect(info.Config.Labels['toolbelt.generation']).toBe('1');
      expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
      expect(info.Config.Env).toContain('MODE=test');

      const started = await peer.command({ commandType: 'start', toolInstanceId: id, generation: 1, payload: {} });
      expect(started.tool?.state).toBe('running');
      expect(started.tool?.endpoints).toEqual([{ host: '127.0.0.1', port: hostPort, path: '/', transport: 'http' }]);
      const response = await fetch(`http://127.0.0.1:${hostPort}/`);
      expect(await response.text()).toBe('toolbelt test tool\n');
      await peer.waitFor('tool_status', (m) => m.tool.toolInstanceId === id && m.tool.health.status === 'healthy');

      // SIGKILL the agent: the container keeps running; the next agent finds it by its labels.
      const containerId = info.Id;
      await agent.kill('SIGKILL');
      expect((await docker.getContainer(containerId).inspect()).State.Running).toBe(true);
      const helloSince = peer.mark();
      start();
      const again = await peer.waitFor('hello', undefined, helloSince);
      const found = again.inventory.find((t) => t.toolInstanceId === id);
      expect(found).toMatchObject({ runtime: 'docker', generation: 1, state: 'running', instanceName: 'httpd' });
      expect(found?.runtimeId).toContain(containerId.slice(0, 12));

      // Logs come from the engine.
      const logsSince = peer.mark();
      await peer.command({ commandType: 'get_logs', toolInstanceId: id, generation: 1, payload: { tail: 20 } });
      const logs = await peer.waitFor('logs', (m) => m.toolInstanceId === id, logsSince);
      expect(logs.lines.length).toBeGreaterThan(0);

      // configure to generation 2: the container is replaced and keeps running.
      const configured = await peer.command({ commandType: 'configure', toolInstanceId: id, generation: 2, payload: { tool: { ...tool, env: { MODE: 'two' } } } });
      expect(configured.tool).toMatchObject({ generation: 2, state: 'running' });
      const next = await docker.getContainer(`toolbelt-${id}`).inspect();
      expect(next.Config.Labels['toolbelt.generation']).toBe('2');
      expect(next.Config.Env).toContain('MODE=two');

      const stopped = await peer.command({ commandType: 'stop', toolInstanceId: id, generation: 2, payload: { timeoutMs: 2000 } });
      expect(stopped.tool?.state).toBe('stopped');
      const removed = await peer.command({ commandType: 'uninstall', toolInstanceId: id, generation: 2, payload: {} });
      expect(removed.status).toBe('done');
      await expect(docker.getContainer(`toolbelt-${id}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    });

    it('injects secret values as container environment, never as labels', async () => {
      const tag = `s${Date.now().toString(36)}`;
      pushTestImage(tag);
      const id = `s${tag}`;
      ids.push(id);
      const peer = await startTestPeer({ secrets: { [id]: { DB_PASSWORD: SECRET } } });
      cleanups.push(() => peer.close());
      const agent = startAgentProcess(
        testConfig({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken, runtimes: ['docker'], dockerSocket: ENGINE_SOCKET }),
      );
      cleanups.push(() => agent.kill('SIGKILL'));
      await peer.waitFor('credential_ack');
      const result = await peer.command({
        commandType: 'install',
        toolInstanceId: id,
        generation: 1,
        payload: { tool: { instanceName: 'sec', packagingType: 'docker_image', packageIdentifier: TEST_IMAGE, version: tag, transport: 'none', secretEnv: ['DB_PASSWORD'] } },
      });
      expect(result.error?.reason).toBeUndefined();
      const info = await docker.getContainer(`toolbelt-${id}`).inspect();
      expect(info.Config.Env).toContain(`DB_PASSWORD=${SECRET}`);
      expect(JSON.stringify(info.Config.Labels)).not.toContain(SECRET);
      expect(Buffer.from(info.Config.Labels['toolbelt.spec']!, 'base64').toString()).not.toContain(SECRET);
      expect(agent.log.join('\n')).not.toContain(SECRET);
      await peer.command({ commandType: 'uninstall', toolInstanceId: id, generation: 1, payload: {} });
    });

    it('fails an install of an image the registry does not have with AGENT_ERR_INSTALL_FAILED', async () => {
      const { peer } = await setup();
      const result = await peer.command({
        commandType: 'install',
        toolInstanceId: 'missing-image',
        generation: 1,
        payload: { tool: { instanceName: 'x', packagingType: 'docker_image', packageIdentifier: TEST_IMAGE, version: 'no-such-tag', transport: 'none' } },
      });
      expect(result.error?.code, result.error?.reason).toBe(AGENT_ERROR_CODES.installFailed);
    });
  },
);
