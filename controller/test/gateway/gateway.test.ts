/**
 * The MCP gateway end to end: a real controller with local droplets (real droplet agents),
 * the stdio `everything` server and the HTTP `echo` server (its secret proved by its
 * fingerprint) on one agent, and the official MCP client (SDK v2) at `/v1/agents/alpha/mcp`
 * in both revisions — nothing but the controller is dialled.
 */
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
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
});
