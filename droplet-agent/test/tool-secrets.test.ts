/**
 * What the agent does with a tool's environment and secrets, whatever the controller says:
 * it refuses a spec that sets a reserved variable (loader and interpreter hooks, its own
 * variables) and sets its own variables last; and it masks the tool's secret values in
 * everything it reports of the tool (last output, reason, logs, command failures).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_ERROR_CODES, type ToolSpecInput } from '@toolbelt/schema/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgentProcess, tempDir, testConfig } from './helpers/agent-process.ts';
import { startTestPeer } from './helpers/peer.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(secrets: Record<string, Record<string, string>> = {}) {
  const peer = await startTestPeer({ secrets });
  cleanups.push(() => peer.close());
  const config = testConfig({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken });
  const agent = startAgentProcess(config, join(tempDir('toolbelt-agent-config-'), 'agent.json'));
  cleanups.push(() => agent.kill('SIGKILL'));
  await peer.waitFor('credential_ack');
  return { peer, agent, stateDir: config.stateDir! };
}

const spec = (more: Partial<ToolSpecInput>): ToolSpecInput => ({
  instanceName: 'leaky',
  packagingType: 'npm_package',
  packageIdentifier: 'leaky-tool',
  version: '1.0.0',
  transport: 'none',
  ...more,
});

describe('reserved environment variables', () => {
  it('refuses a spec that sets NODE_OPTIONS, LD_PRELOAD, PATH, PORT or TOOLBELT_* (as a variable or a secret), naming them', { timeout: 120_000 }, async () => {
    const { peer } = await setup();
    const attempts: Partial<ToolSpecInput>[] = [
      { env: { NODE_OPTIONS: '--require /tmp/evil.js' } },
      { secretEnv: ['LD_PRELOAD'] },
      { env: { PATH: '/tmp' }, secretEnv: ['TOOLBELT_AGENT_TOKEN'] },
      { env: { PORT: '1' } },
    ];
    for (const [i, more] of attempts.entries()) {
      const result = await peer.command({ commandType: 'install', toolInstanceId: `r${i}`, generation: 1, payload: { tool: spec(more) } });
      expect(result.status, JSON.stringify(more)).toBe('failed');
      expect(result.error?.code).toBe(AGENT_ERROR_CODES.installFailed);
      for (const name of [...Object.keys(more.env ?? {}), ...(more.secretEnv ?? [])]) expect(result.error?.reason).toContain(name);
    }
    const inventory = peer.mark();
    await peer.command({ commandType: 'install', toolInstanceId: 'probe', generation: 1, payload: { tool: spec({ env: { HOME: '/' } }) } });
    expect(peer.messages.slice(inventory).some((m) => m.type === 'tool_status' && m.tool.toolInstanceId.startsWith('r'))).toBe(false);
  });
});

describe('a tool environment', () => {
  it('leaves reserved variables out and puts the agent own variables last', async () => {
    const { toolEnvironment } = await import('../src/runtimes/env.ts');
    const { toolSpecSchema } = await import('@toolbelt/schema/protocol');
    const parsed = toolSpecSchema.parse(spec({ env: { PORT: '1', NODE_OPTIONS: '-r x', PLAIN: 'p' }, secretEnv: ['API_KEY', 'LD_PRELOAD'] }));
    const env = toolEnvironment(parsed, { API_KEY: 'k', LD_PRELOAD: '/x.so', OTHER: 'not bound' }, { PORT: '8080', TOOLBELT_TOOL_INSTANCE_ID: 't' });
    expect(env).toEqual({ PLAIN: 'p', API_KEY: 'k', PORT: '8080', TOOLBELT_TOOL_INSTANCE_ID: 't' });
  });
});

/** A tool that prints its secret on stdout and stderr, then crashes: packed as an npm tarball. */
function leakyPackage(): string {
  const dir = tempDir('toolbelt-leaky-');
  mkdirSync(join(dir, 'package'));
  writeFileSync(join(dir, 'package', 'package.json'), JSON.stringify({ name: 'leaky-tool', version: '1.0.0', bin: { 'leaky-tool': 'leaky.js' } }));
  const script = [
    '#!/usr/bin/env node',
    "console.log('connecting with token ' + process.env.LEAKY_TOKEN);",
    "console.error('fatal: the server refused ' + JSON.stringify({ token: process.env.LEAKY_TOKEN }) + ' at ' + encodeURIComponent(process.env.LEAKY_TOKEN));",
    'process.exit(3);',
  ].join('\n');
  writeFileSync(join(dir, 'package', 'leaky.js'), script, { mode: 0o755 });
  execFileSync('tar', ['-czf', join(dir, 'leaky-tool-1.0.0.tgz'), '-C', dir, 'package']);
  return join(dir, 'leaky-tool-1.0.0.tgz');
}

describe('secret masking', () => {
  it('masks the secret of a tool that prints it and crashes, in every report, log and failure', { timeout: 180_000 }, async () => {
    const SECRET = `tok-"${Math.random().toString(36).slice(2)}/&x=1`;
    const { peer, agent } = await setup({ leaky: { LEAKY_TOKEN: SECRET } });
    const tool = spec({ version: `file:${leakyPackage()}`, secretEnv: ['LEAKY_TOKEN'] });
    const installed = await peer.command({ commandType: 'install', toolInstanceId: 'leaky', generation: 1, payload: { tool } });
    expect(installed.error?.reason).toBeUndefined();
    await peer.command({ commandType: 'start', toolInstanceId: 'leaky', generation: 1, payload: {} });
    const troubled = await peer.waitFor('tool_status', (m) => (m.tool.lastLogLines ?? []).some((l) => l.text.includes('refused')), 0, 60_000);
    const texts = troubled.tool.lastLogLines!.map((l) => l.text);
    expect(texts).toEqual(expect.arrayContaining(['connecting with token ***', expect.stringMatching(/refused \{"token":"\*\*\*"\} at \*\*\*$/)]));
    const logs = await peer.command({ commandType: 'get_logs', toolInstanceId: 'leaky', generation: 1, payload: { tail: 50 } });
    expect(logs.status).toBe('done');
    const logLines = peer.messages.filter((m) => m.type === 'logs').flatMap((m) => m.lines.map((l) => l.text));
    expect(logLines).toContain('connecting with token ***');
    // Nothing the agent sent, and nothing it logged, carries the value in any of its forms.
    const sent = JSON.stringify(peer.messages);
    for (const form of [SECRET, JSON.stringify(SECRET).slice(1, -1), encodeURIComponent(SECRET)]) {
      expect(sent).not.toContain(form);
      expect(agent.log.join('\n')).not.toContain(form);
    }
  });
});
