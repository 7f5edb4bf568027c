#!/usr/bin/env node
// The echo MCP server: toolbelt's example tool (see docs/tools.md).
//
// Transport: `--transport stdio` (default) or `--transport http` (Streamable HTTP on
// `--port`/PORT, default 8000, at path /mcp; `--host`/HOST, default 127.0.0.1).
// Settings come from the environment, as toolbelt injects them:
//   ECHO_PREFIX  text put before every echo (a config setting)
//   ECHO_SECRET  a secret; the server never prints it, `secret_fingerprint` proves it has it
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const VERSION = '1.0.0';

/** A fresh MCP server with the echo tools registered. */
function buildServer() {
  const server = new McpServer({ name: 'toolbelt-echo', version: VERSION });
  server.registerTool(
    'echo',
    { description: 'Answers with the text it was given (after the configured prefix).', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text: `${process.env.ECHO_PREFIX ?? ''}${text}` }] }),
  );
  server.registerTool(
    'secret_fingerprint',
    { description: 'The first 16 hex digits of SHA-256 over ECHO_SECRET, or "unset": proves the secret arrived without showing it.' },
    async () => {
      const secret = process.env.ECHO_SECRET;
      const text = secret ? createHash('sha256').update(secret).digest('hex').slice(0, 16) : 'unset';
      return { content: [{ type: 'text', text }] };
    },
  );
  return server;
}

async function serveHttp(host, port) {
  const http = createServer(async (req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (!req.url?.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    // Stateless: a server and transport per request, as the SDK recommends without sessions.
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise((resolve, reject) => http.once('error', reject).listen(port, host, resolve));
  const address = http.address();
  console.error(`echo-mcp ${VERSION} serving MCP over Streamable HTTP on http://${host}:${address.port}/mcp`);
  const stop = () => http.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function main() {
  const { values } = parseArgs({
    options: { transport: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
  });
  const transport = values.transport ?? process.env.ECHO_TRANSPORT ?? 'stdio';
  if (transport === 'stdio') {
    await buildServer().connect(new StdioServerTransport());
    return;
  }
  if (transport !== 'http') throw new Error(`unknown transport "${transport}": use stdio or http`);
  await serveHttp(values.host ?? process.env.HOST ?? '127.0.0.1', parsePort(values.port ?? process.env.PORT ?? '8000'));
}

function parsePort(text) {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port "${text}": use 0–65535`);
  return port;
}

main().catch((error) => {
  console.error(`echo-mcp: ${error.message}`);
  process.exit(2);
});
