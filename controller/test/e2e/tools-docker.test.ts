/**
 * Tools on droplets with the docker runtime, end to end: a local droplet's agent runs the
 * echo MCP server's image (built by tools/echo-mcp/image/build.sh, pulled from the local
 * registry) through a real container engine's Docker API, with a secret; an MCP client calls
 * it at its published endpoint; removal deletes the container. The secret is in no label.
 * Needs the container engine and registry `scripts/install-container-engine.sh` sets up.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeEachDatabase, describeIf } from '@toolbelt/schema/testing';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { type E2E, freePort, startE2E, until } from './harness.ts';
import { tryMcpTool } from './mcp.ts';

const SOCKET = process.env.TOOLBELT_TEST_DOCKER_SOCKET ?? '/run/toolbelt-podman.sock';
const BUILD = fileURLToPath(new URL('../../../tools/echo-mcp/image/build.sh', import.meta.url));
const available = existsSync(SOCKET);
const SECRET = `docker-secret-${Math.random().toString(36).slice(2)}`;

async function docker<T>(path: string): Promise<T> {
  const { request } = await import('node:http');
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
      'runs the echo image with its secret, answers over MCP, and removes the container',
      async () => {
        const e = (e2e = await startE2E(t, { TOOLBELT_LOCAL_DOCKER_SOCKET: SOCKET }));
        const port = await freePort();
        expect((await e.call('PATCH', '/v1/catalog/echo-docker', { ports: [port] })).status).toBe(200);
        expect((await e.call('POST', '/v1/agents', { name: 'dock', environment: { active: true } })).status).toBe(201);
        expect((await e.call('PUT', '/v1/agents/dock/secrets/s', { value: SECRET })).status).toBeLessThan(300);
        const added = await e.call('POST', '/v1/agents/dock/tools', { tool_name: 'echo-docker', config_details: { prefix: 'c: ' }, secret_refs: { ECHO_SECRET: 's' } });
        expect(added.status, added.text).toBe(201);
        const path = `/v1/agents/dock/tools/${added.body.id}`;
        const running = await until(async () => {
          const tool = (await e.call('GET', path)).body;
          const ready = tool.conditions.find((c: { type: string }) => c.type === 'Ready')?.status === 'True';
          return tool.status === 'running' && ready && tool.endpoints.length > 0 ? tool : undefined;
        }, async () => (await e.call('GET', path)).text, 240_000);
        const endpoint = running.endpoints[0];
        expect(endpoint.port).toBe(port);
        expect(await tryMcpTool(endpoint, 'echo', { text: 'hi' })).toBe('c: hi');
        expect(await tryMcpTool(endpoint, 'secret_fingerprint')).toBe(createHash('sha256').update(SECRET).digest('hex').slice(0, 16));

        const containers = await docker<{ Id: string; Labels: Record<string, string> }[]>(
          `/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ label: [`toolbelt.tool-instance-id=${added.body.id}`] }))}`,
        );
        expect(containers).toHaveLength(1);
        const labels = JSON.stringify(containers[0]!.Labels);
        expect(labels).not.toContain(SECRET);
        expect(Buffer.from(containers[0]!.Labels['toolbelt.spec'] ?? '', 'base64').toString()).not.toContain(SECRET);

        expect((await e.call('DELETE', path)).status).toBeLessThan(300);
        await until(async () => (await e.call('GET', path)).status === 404, () => 'the tool row stayed');
        await until(async () => {
          const left = await docker<unknown[]>(`/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ label: [`toolbelt.tool-instance-id=${added.body.id}`] }))}`);
          return left.length === 0;
        }, () => 'the container stayed');
        expect(e.logs.filter((l) => l.includes(SECRET))).toEqual([]);
      },
      400_000,
    );
  });
});
