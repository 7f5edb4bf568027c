import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import {
  AGENT_ERROR_CODES,
  CLOSE_CODES,
  closeCodeFor,
  encodeMessage,
  MAX_FRAME_BYTES,
  parseAgentMessage,
  parseControllerMessage,
  PROTOCOL_PACKAGING_TYPES,
  PROTOCOL_TRANSPORTS,
  PROTOCOL_VERSION,
  TokenBucket,
  toolSpecSchema,
} from '../../src/protocol.ts';
import { PACKAGING_TYPES, TRANSPORTS } from '../../src/tables.ts';

const metrics = {
  cpuPercent: 3,
  memoryUsedBytes: 1,
  memoryTotalBytes: 2,
  diskUsedBytes: 3,
  diskTotalBytes: 4,
  load1: 0.1,
  load5: 0.2,
  load15: 0.3,
  uptimeSeconds: 10,
};
const tool = {
  instanceName: 'everything',
  packagingType: 'npm_package',
  packageIdentifier: '@modelcontextprotocol/server-everything',
  version: '2026.8.31',
  transport: 'mcp-stdio',
  secretEnv: ['OPENAI_API_KEY'],
};
const status = {
  toolInstanceId: 't1',
  instanceName: 'everything',
  generation: 3,
  runtime: 'process',
  state: 'running',
  health: { status: 'healthy' },
};

describe('protocol messages', () => {
  it('round-trips every agent message type through encode and parse', () => {
    const messages = [
      {
        type: 'hello',
        agentVersion: '0.1.0',
        protocolVersion: PROTOCOL_VERSION,
        droplet: { hostname: 'h' },
        runtimes: ['process'],
        inventory: [status],
        startedAt: new Date().toISOString(),
      },
      { type: 'heartbeat', agentVersion: '0.1.0', seq: 1, metrics, toolCount: 1 },
      { type: 'command_result', commandId: 'c1', status: 'failed', error: { code: 'AGENT_ERR_INSTALL_FAILED', reason: 'x' } },
      { type: 'tool_status', tool: status },
      { type: 'inventory', inventory: [] },
      { type: 'logs', toolInstanceId: 't1', lines: [{ at: 'now', stream: 'stdout', text: 'hi' }], truncated: false },
      { type: 'secret_request', requestId: 'r1', toolInstanceId: 't1', names: ['OPENAI_API_KEY'] },
      { type: 'credential_ack', credentialId: 'k1' },
      { type: 'error', code: 'AGENT_ERR_INVALID_JSON', detail: 'bad' },
    ] as const;
    for (const message of messages) {
      const parsed = parseAgentMessage(encodeMessage(message as never));
      expect(parsed, message.type).toMatchObject({ ok: true, message: { type: message.type, v: PROTOCOL_VERSION } });
    }
  });

  it('round-trips every command type and fills defaults', () => {
    const base = { type: 'command', commandId: 'c', toolInstanceId: 't1', generation: 2 };
    const commands = [
      { ...base, commandType: 'install', payload: { tool } },
      { ...base, commandType: 'configure', payload: { tool } },
      { ...base, commandType: 'start', payload: {} },
      { ...base, commandType: 'stop', payload: { timeoutMs: 5 } },
      { ...base, commandType: 'uninstall', payload: {} },
      { ...base, commandType: 'get_logs', payload: {} },
      { type: 'command', commandId: 'u', commandType: 'update_agent', payload: { version: '0.2.0', url: 'https://c.example/agent/v1/releases/0.2.0/agent.mjs', sha256: 'a'.repeat(64) } },
    ];
    for (const command of commands) {
      const parsed = parseControllerMessage(JSON.stringify({ ...command, v: 1 }));
      expect(parsed.ok, command.commandType).toBe(true);
    }
    const install = parseControllerMessage(JSON.stringify({ ...commands[0], v: 1 }));
    if (!install.ok || install.message.type !== 'command' || install.message.commandType !== 'install') throw new Error();
    expect(install.message.payload.tool.ports).toEqual([]);
    expect(install.message.payload.tool.env).toEqual({});
  });

  it('refuses an update_agent that does not pin a release (URL and SHA-256)', () => {
    const update = (payload: object) => parseControllerMessage(JSON.stringify({ type: 'command', v: 1, commandId: 'u', commandType: 'update_agent', payload }));
    const url = 'https://c.example/agent/v1/releases/0.2.0/agent.mjs';
    expect(update({ version: '0.2.0', url })).toMatchObject({ ok: false, code: AGENT_ERROR_CODES.invalidMessage });
    expect(update({ version: '0.2.0', url, sha256: 'A'.repeat(64) })).toMatchObject({ ok: false });
    expect(update({ version: '0.2.0', url: 'file:///etc/passwd', sha256: 'a'.repeat(64) })).toMatchObject({ ok: false });
    expect(update({ version: '../0.2.0', url, sha256: 'a'.repeat(64) })).toMatchObject({ ok: false });
  });

  it('gives stable codes for bad frames and never throws', () => {
    const cases: [unknown, string][] = [
      ['{not json', AGENT_ERROR_CODES.invalidJson],
      ['[1,2]', AGENT_ERROR_CODES.invalidMessage],
      ['"hello"', AGENT_ERROR_CODES.invalidMessage],
      ['null', AGENT_ERROR_CODES.invalidMessage],
      [JSON.stringify({ type: 7, v: 1 }), AGENT_ERROR_CODES.invalidMessage],
      [JSON.stringify({ type: 'hello' }), AGENT_ERROR_CODES.invalidMessage],
      [JSON.stringify({ type: 'hello', v: 99 }), AGENT_ERROR_CODES.versionUnsupported],
      [JSON.stringify({ type: 'launch_missiles', v: 1 }), AGENT_ERROR_CODES.unknownType],
      [JSON.stringify({ type: 'heartbeat', v: 1, seq: 'one' }), AGENT_ERROR_CODES.invalidMessage],
      [Buffer.from([0xff, 0xfe, 0x00]), AGENT_ERROR_CODES.invalidJson],
      ['x'.repeat(MAX_FRAME_BYTES + 1), AGENT_ERROR_CODES.frameTooLarge],
    ];
    for (const [raw, code] of cases) {
      const parsed = parseAgentMessage(raw as string);
      expect(parsed, String(raw).slice(0, 40)).toMatchObject({ ok: false, code });
    }
    // A message type of the other direction is unknown here.
    expect(parseControllerMessage(JSON.stringify({ type: 'hello', v: 1 }))).toMatchObject({
      ok: false,
      code: AGENT_ERROR_CODES.unknownType,
    });
  });

  it('names the field in the detail but never echoes a value', () => {
    const secret = 'sk-live-do-not-print';
    const parsed = parseControllerMessage(
      JSON.stringify({ type: 'secret_response', v: 1, requestId: 'r', toolInstanceId: 't', values: { KEY: 42, X: secret } }),
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.detail).toContain('values.KEY');
    expect(parsed.detail).not.toContain(secret);
  });

  it('accepts binary frames as UTF-8 text (ws hands Buffers and fragments)', () => {
    const text = encodeMessage({ type: 'credential_ack', credentialId: 'k' });
    expect(parseAgentMessage(Buffer.from(text)).ok).toBe(true);
    const half = Math.floor(text.length / 2);
    expect(parseAgentMessage([Buffer.from(text.slice(0, half)), Buffer.from(text.slice(half))]).ok).toBe(true);
  });

  it('refuses to encode a frame over the limit', () => {
    const lines = Array.from({ length: 1000 }, () => ({ at: 'now', stream: 'stdout' as const, text: 'y'.repeat(2000) }));
    expect(() => encodeMessage({ type: 'logs', toolInstanceId: 't', lines, truncated: false })).toThrow(RangeError);
  });

  it('rejects a spec that puts one variable in env and secretEnv', () => {
    const parsed = toolSpecSchema.safeParse({ ...tool, env: { OPENAI_API_KEY: 'oops' } });
    expect(parsed.success).toBe(false);
  });

  it('maps connection-ending errors to close codes', () => {
    expect(closeCodeFor(AGENT_ERROR_CODES.versionUnsupported)).toBe(CLOSE_CODES.versionUnsupported);
    expect(closeCodeFor(AGENT_ERROR_CODES.rateLimited)).toBe(CLOSE_CODES.rateLimited);
    expect(closeCodeFor(AGENT_ERROR_CODES.invalidJson)).toBeUndefined();
  });

  it('mirrors the store enums', () => {
    expect([...PROTOCOL_PACKAGING_TYPES]).toEqual([...PACKAGING_TYPES]);
    expect([...PROTOCOL_TRANSPORTS]).toEqual([...TRANSPORTS]);
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then refills at the rate', async () => {
    const clock = createManualClock();
    const bucket = new TokenBucket({ perSecond: 10, burst: 3, clock });
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    await clock.advance(100);
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
  });
});
