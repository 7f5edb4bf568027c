import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.ts';
import { toolInfos } from '../src/health/mcp.ts';
import { parseAgentConfig } from '../src/config.ts';
import { demuxLogs } from '../src/runtimes/docker/logs.ts';
import { FileTail, LogBuffer, logLine } from '../src/logs.ts';
import { tempDir } from './helpers/agent-process.ts';

describe('backoff', () => {
  it('grows exponentially to the cap, with full jitter and a floor', () => {
    const o = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, { ...o, random: () => 0.999 }))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffDelay(5, { ...o, random: () => 0 })).toBe(50);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, o)));
    expect(spread.size).toBeGreaterThan(10);
  });

  it('spreads a fleet evenly above the floor, with no spike on it', () => {
    const o = { initialDelayMs: 1000, maxDelayMs: 60_000 };
    const draws = Array.from({ length: 10_000 }, () => backoffDelay(0, o));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...draws)).toBeLessThan(1000);
    const onFloor = draws.filter((d) => d === 500).length;
    expect(onFloor / draws.length).toBeLessThan(0.01);
  });
});

describe('capabilities from tools/list', () => {
  it('keep each MCP tool\'s name, description and input schema, the schemas bounded in size', () => {
    const schema = (chars: number) => ({ type: 'object', description: 'x'.repeat(chars) });
    const infos = toolInfos([
      { name: 'small', description: 'a small one', inputSchema: schema(100) },
      { name: 'plain', inputSchema: { type: 'object' } },
      { name: 'huge', description: 'too large alone', inputSchema: schema(9000) },
      { name: 'big1', inputSchema: schema(7000) },
      { name: 'big2', inputSchema: schema(7000) },
      { name: 'big3', inputSchema: schema(7000) },
    ]);
    expect(infos[0]).toEqual({ name: 'small', description: 'a small one', inputSchema: schema(100) });
    expect(infos[1]).toEqual({ name: 'plain', inputSchema: { type: 'object' } });
    // Over 8 KB alone: left out; over 16 KB for the tool in all: the later ones left out.
    expect(infos[2]).toEqual({ name: 'huge', description: 'too large alone' });
    expect(infos.slice(3).map((i) => 'inputSchema' in i)).toEqual([true, true, false]);
  });
});

describe('agent config', () => {
  const base = { controllerUrl: 'wss://controller.example.com/agent/v1' };
  it('fills real defaults', () => {
    const config = parseAgentConfig(base);
    expect(config).toMatchObject({ stateDir: '/var/lib/toolbelt-agent', dockerSocket: '/var/run/docker.sock', heartbeatIntervalMs: 15_000 });
  });
  it('allows ws:// on loopback only, and names the field otherwise', () => {
    expect(parseAgentConfig({ controllerUrl: 'ws://127.0.0.1:9/agent/v1' }).controllerUrl).toContain('127.0.0.1');
    expect(parseAgentConfig({ controllerUrl: 'ws://[::1]:9/agent/v1' }).controllerUrl).toContain('[::1]');
    expect(() => parseAgentConfig({ controllerUrl: 'ws://10.0.0.1/agent/v1' })).toThrow(/controllerUrl: plain ws:\/\//);
    expect(() => parseAgentConfig({ controllerUrl: 'http://127.0.0.1/' })).toThrow(/controllerUrl/);
    expect(() => parseAgentConfig({ ...base, heartbeatIntervalMs: 5 })).toThrow(/heartbeatIntervalMs/);
  });
});

describe('log buffer and file tail', () => {
  it('keeps the last lines and says when it dropped some', () => {
    const buffer = new LogBuffer(3);
    for (let i = 0; i < 10; i += 1) buffer.push(logLine('stdout', `line ${i}`, new Date(0)));
    const { lines, truncated } = buffer.tail(5);
    expect(lines.map((l) => l.text)).toEqual(['line 7', 'line 8', 'line 9']);
    expect(truncated).toBe(true);
    expect(logLine('stderr', 'x'.repeat(10_000), new Date()).text).toHaveLength(8192);
  });

  it('follows appends, keeps partial lines, and rotates past its bound', async () => {
    const file = join(tempDir('toolbelt-tail-'), 'out.log');
    writeFileSync(file, '');
    const tail = new FileTail(file, 64);
    appendFileSync(file, 'one\ntw');
    expect(await tail.poll()).toEqual(['one']);
    appendFileSync(file, 'o\n');
    expect(await tail.poll()).toEqual(['two']);
    appendFileSync(file, `${'z'.repeat(80)}\n`);
    expect(await tail.poll()).toEqual(['z'.repeat(80)]);
    expect(readFileSync(file, 'utf8')).toBe('');
    expect(existsSync(`${file}.1`)).toBe(true);
    appendFileSync(file, 'after\n');
    expect(await tail.poll()).toEqual(['after']);
  });

  it('backfills from the end of a file, dropping the cut first line', async () => {
    const file = join(tempDir('toolbelt-tail-'), 'out.log');
    writeFileSync(file, 'aaaa\nbbbb\ncccc\n');
    const tail = new FileTail(file, 1 << 20);
    await tail.seekTail(8);
    expect(await tail.poll()).toEqual(['cccc']);
  });
});

describe('docker log stream', () => {
  it('demultiplexes stdout and stderr frames with timestamps', () => {
    const frame = (stream: number, text: string) => {
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([header, Buffer.from(text)]);
    };
    const lines = demuxLogs(Buffer.concat([frame(1, '2026-01-02T03:04:05.000000000Z hello\n'), frame(2, '2026-01-02T03:04:06Z oops\n')]));
    expect(lines).toEqual([
      { at: '2026-01-02T03:04:05.000Z', stream: 'stdout', text: 'hello' },
      { at: '2026-01-02T03:04:06.000Z', stream: 'stderr', text: 'oops' },
    ]);
  });
});
