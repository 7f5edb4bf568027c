/**
 * The MCP gateway end to end: a real controller with local droplets (real droplet agents),
 * the stdio `everything` server and the HTTP `echo` server (its secret proved by its
 * fingerprint) on one agent, and the official MCP client (SDK v2) at `/v1/agents/alpha/mcp`
 * in both revisions — nothing but the controller is dialled.
 */
import { GATEWAY_ERROR_CODES } from '@toolbelt/schema/protocol';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { fingerprintOf, ToolHandle } from '../support/tool-flow.ts';
import { type E2E, startE2E } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';
import { eventually } from '../support/eventually.ts';
import { gatewayClient, type Revision, textOf } from './helpers.ts';

const SECRET = `gw-secret-${Math.random().toString(36).slice(2)}`;

describeEachDatabase('MCP gateway', (t) => {
  let e: E2E;
  let mcpUrl: string;
  let adminToken: string;

  beforeAll(async () => {
    e = await startE2E(t);
    adminToken = e.adminToken;
    mcpUrl = `${e.controller.url}/v1/agents/alpha/mcp`;
    const port = await freePort();
    expect((await e.call('PATCH', '/v1/catalog/echo', { ports: [port] })).status).toBe(200);
    expect((await e.call('POST', '/v1/agents', { name: 'alpha', environment: { active: true } })).status).toBe(201);
    expect((await e.call('PUT', '/v1/agents/alpha/secrets/echo-secret', { value: SECRET })).status).toBeLessThan(300);
    const echo = await e.call('POST', '/v1/agents/alpha/tools', { tool_name: 'echo', config_details: { prefix: '> ' }, secret_refs: { ECHO_SECRET: 'echo-secret' } });
    const everything = await e.call('POST', '/v1/agents/alpha/tools', { tool_name: 'everything' });
    expect([echo.status, everything.status]).toEqual([201, 201]);
    await new ToolHandle(e, 'alpha', echo.body.id).untilRunning(240_000);
    // A stdio tool has no endpoint: it is ready once it runs with its capabilities known.
    const stdio = new ToolHandle(e, 'alpha', everything.body.id);
    await eventually(async () => {
      const tool = await stdio.get();
      return tool.status === 'running' && tool.capabilities?.tools.length > 0;
    }, () => stdio.describe(), 240_000);
  }, 300_000);

  afterAll(async () => {
    await e?.stop();
  });

  for (const revision of ['2026-07-28', '2025-11-25'] as Revision[]) {
    it(`lists and calls the stdio and the HTTP tool through one endpoint (${revision})`, async () => {
      const client = await gatewayClient(mcpUrl, adminToken, revision);
      try {
        expect(client.getNegotiatedProtocolVersion()).toBe(revision);
        const { tools } = await client.listTools();
        const names = tools.map((tool) => tool.name);
        expect(names).toEqual(expect.arrayContaining(['echo__echo', 'echo__secret_fingerprint', 'everything__echo']));
        for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
        expect(tools.find((tool) => tool.name === 'everything__echo')?.inputSchema).toMatchObject({ type: 'object' });
        expect(textOf(await client.callTool({ name: 'echo__echo', arguments: { text: 'hi' } }))).toBe('> hi');
        expect(textOf(await client.callTool({ name: 'echo__secret_fingerprint', arguments: {} }))).toBe(fingerprintOf(SECRET));
        expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'from stdio' } }))).toContain('from stdio');
        await expect(client.callTool({ name: 'nope__nothing', arguments: {} })).rejects.toThrow(/unknown tool/);
      } finally {
        await client.close();
      }
    }, 120_000);
  }

  it('records every call without its arguments', async () => {
    await eventually(async () => {
      const calls = (await e.call('GET', '/v1/agents/alpha/calls?limit=500')).body;
      return calls.items?.some((c: { tool: string }) => c.tool === 'echo__secret_fingerprint') ? calls : undefined;
    }, async () => (await e.call('GET', '/v1/agents/alpha/calls')).text, 30_000);
    const calls = await e.call('GET', '/v1/agents/alpha/calls?limit=500');
    expect(calls.body.items[0]).toMatchObject({ caller: expect.any(String), method: expect.any(String), outcome: expect.any(String) });
    expect(calls.body.items.find((c: { tool: string }) => c.tool === 'echo__echo')).toMatchObject({ instance_name: 'echo', outcome: 'ok' });
    expect(calls.text).not.toContain('from stdio');
  });

  it("refuses a caller token of one agent on another agent's gateway", async () => {
    expect((await e.call('POST', '/v1/agents', { name: 'beta' })).status).toBe(201);
    const created = await e.call('POST', '/v1/tokens', { name: 'alpha-platform', role: 'caller', agent: 'alpha' });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    const onBeta = await rawMcp(`${e.controller.url}/v1/agents/beta/mcp`, token, listRequest);
    expect(onBeta.status).toBe(403);
    expect(onBeta.text).not.toContain('alpha__');
    expect((await rawMcp(`${e.controller.url}/v1/agents/beta/toolbelt`, token, undefined)).status).toBe(403);
    const client = await gatewayClient(mcpUrl, token, '2026-07-28');
    try {
      expect(textOf(await client.callTool({ name: 'echo__echo', arguments: { text: 'mine' } }))).toBe('> mine');
    } finally {
      await client.close();
    }
  });

  it('hides a filtered tool from the list and refuses to call it', async () => {
    const patch = (tool: string, body: unknown) => e.call('PATCH', `/v1/agents/alpha/tools/${tool}`, body);
    expect((await patch('everything', { denied_tools: ['get-sum'] })).status).toBe(200);
    expect((await patch('echo', { allowed_tools: ['echo'] })).status).toBe(200);
    const client = await gatewayClient(mcpUrl, adminToken, '2026-07-28');
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(['echo__echo', 'everything__echo']));
      expect(names).not.toContain('everything__get-sum');
      expect(names).not.toContain('echo__secret_fingerprint');
      await expect(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } })).rejects.toMatchObject({ code: GATEWAY_ERROR_CODES.forbidden });
      await expect(client.callTool({ name: 'echo__secret_fingerprint', arguments: {} })).rejects.toMatchObject({ code: GATEWAY_ERROR_CODES.forbidden });
      expect(textOf(await client.callTool({ name: 'echo__echo', arguments: { text: 'still' } }))).toBe('> still');
      expect((await patch('everything', { denied_tools: null })).status).toBe(200);
      expect((await patch('echo', { allowed_tools: null })).status).toBe(200);
      expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['everything__get-sum', 'echo__secret_fingerprint']));
    } finally {
      await client.close();
    }
  });

  it('answers malformed JSON-RPC with JSON-RPC errors and keeps serving', async () => {
    const bodies = ['{nope', '', '[]', '42', '{"jsonrpc":"2.0","id":1}', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'];
    for (const body of bodies) {
      for (const revision of [{ 'mcp-protocol-version': '2026-07-28' }, {}] as Record<string, string>[]) {
        const answer = await rawMcp(mcpUrl, adminToken, body, revision);
        expect(answer.status, body).toBeGreaterThanOrEqual(400);
        expect(answer.status, body).toBeLessThan(500);
        expect(JSON.parse(answer.text), body).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number), message: expect.any(String) } });
      }
    }
    const client = await gatewayClient(mcpUrl, adminToken, '2026-07-28');
    try {
      // A method no MCP revision has (the client's types do not allow it): the SDK answers 501 with -32601.
      await expect(client.request({ method: 'nope/nope', params: {} } as never, z.object({}))).rejects.toMatchObject({ code: 'CLIENT_HTTP_NOT_IMPLEMENTED' });
      expect(textOf(await client.callTool({ name: 'echo__echo', arguments: { text: 'alive' } }))).toBe('> alive');
    } finally {
      await client.close();
    }
  });

  it('carries a 1 MiB argument and result through both tools, and refuses a body over the limit cleanly', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const client = await gatewayClient(mcpUrl, adminToken, '2026-07-28');
    try {
      expect(textOf(await client.callTool({ name: 'echo__echo', arguments: { text: big } }))).toBe(`> ${big}`);
      expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: big } }))).toContain(big);
      const over = await rawMcp(mcpUrl, adminToken, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo__echo', arguments: { text: 'y'.repeat(9 * 1024 * 1024) } } }), { 'mcp-protocol-version': '2026-07-28' });
      expect(over.status).toBe(413);
      expect(JSON.parse(over.text)).toMatchObject({ jsonrpc: '2.0', error: { code: GATEWAY_ERROR_CODES.tooLarge } });
      expect(textOf(await client.callTool({ name: 'echo__echo', arguments: { text: 'after' } }))).toBe('> after');
    } finally {
      await client.close();
    }
  });

  // Last: it kills alpha's droplet agent.
  it('fails a call promptly when the droplet agent is SIGKILLed mid-call, and keeps serving', async () => {
    const dropletId: number = (await e.call('GET', '/v1/agents/alpha')).body.environment.droplet_id;
    const pid = e.controller.localDroplets!.agentPid(dropletId);
    expect(pid).toBeGreaterThan(0);
    const client = await gatewayClient(mcpUrl, adminToken, '2026-07-28');
    try {
      const call = client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 30, steps: 3 } });
      const outcome = call.then(() => 'answered', (error: { code?: number }) => error.code);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const killedAt = Date.now();
      process.kill(pid!, 'SIGKILL');
      expect(await outcome).toBe(GATEWAY_ERROR_CODES.interrupted);
      expect(Date.now() - killedAt).toBeLessThan(5_000);
      await expect(client.callTool({ name: 'echo__echo', arguments: { text: 'gone?' } })).rejects.toMatchObject({ code: GATEWAY_ERROR_CODES.agentUnavailable });
      expect((await client.listTools()).tools).toEqual([]);
    } finally {
      await client.close();
    }
    expect((await e.call('GET', '/healthz')).status).toBe(200);
  }, 60_000);
});

const listRequest = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

/** A raw POST (GET without a body) to the gateway, for what the official client never sends. */
async function rawMcp(url: string, token: string, body: string | undefined, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, text: await response.text() };
}
