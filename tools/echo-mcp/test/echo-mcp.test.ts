import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/echo-mcp.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

describe('echo MCP server', () => {
  it('answers over stdio with its configured prefix and proves it has its secret', async () => {
    const client = new Client({ name: 'test', version: '1.0.0' });
    clients.push(client);
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN],
        env: { ECHO_PREFIX: 'echo: ', ECHO_SECRET: 's3cret', PATH: process.env.PATH ?? '' },
      }),
    );
    expect(client.getServerVersion()).toMatchObject({ name: 'toolbelt-echo', version: '1.0.0' });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'secret_fingerprint']);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('echo: hi');
    const fingerprint = createHash('sha256').update('s3cret').digest('hex').slice(0, 16);
    expect(text(await client.callTool({ name: 'secret_fingerprint', arguments: {} }))).toBe(fingerprint);
  });

  it('serves Streamable HTTP on the port it is given', async () => {
    const child = spawn(process.execPath, [BIN, '--transport', 'http', '--port', '0'], {
      env: { ...process.env, ECHO_PREFIX: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        seen += chunk;
        const match = /on (http:\/\/\S+\/mcp)/.exec(seen);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${seen}`)));
    });
    expect(await (await fetch(url.replace('/mcp', '/healthz'))).json()).toEqual({ status: 'ok' });
    const client = new Client({ name: 'test', version: '1.0.0' });
    clients.push(client);
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'over http' } }))).toBe('over http');
    expect(text(await client.callTool({ name: 'secret_fingerprint', arguments: {} }))).toBe('unset');
  });

  it('refuses an unknown transport with a clear message', () => {
    let message = '';
    try {
      execFileSync(process.execPath, [BIN, '--transport', 'carrier-pigeon'], { stdio: 'pipe' });
    } catch (error) {
      message = String((error as { stderr: Buffer }).stderr);
      expect((error as { status: number }).status).toBe(2);
    }
    expect(message).toMatch(/unknown transport "carrier-pigeon"/);
  });

  it('packs as an npm package with its bin', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT, encoding: 'utf8' })) as {
      name: string;
      files: { path: string }[];
    }[];
    expect(packed!.name).toBe('@toolbelt/echo-mcp');
    expect(packed!.files.map((f) => f.path).sort()).toEqual(['bin/echo-mcp.mjs', 'package.json']);
  });
});
