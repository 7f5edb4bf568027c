/**
 * One unauthenticated request must never end the controller. A real controller process
 * (where an uncaught throw would show as an exit) takes every request that once killed it or
 * answered 500, each over a raw socket: it answers 4xx or closes, stays up, logs no error
 * and no query parameters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControllerProcess, startControllerProcess } from '../support/controller-process.ts';
import { rawRequest, yamlAliasBomb } from './raw-http.ts';

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-request-crash-'));
const ADMIN = `tb_${'a'.repeat(43)}`;
const auth = `Authorization: Bearer ${ADMIN}`;
const upgrade = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];

/** [request line and headers, body]: each once crashed the controller or answered 500. */
const ATTACKS: [string[], string?][] = [
  [['GET /v1/agents/%E0%A4%A HTTP/1.1', 'Host: x']],
  [['GET /v1/packages/x%ZZ HTTP/1.1', 'Host: x']],
  [['GET http://[::1/v1/agents HTTP/1.1', 'Host: x']],
  [['GET http://[::1 HTTP/1.1', 'Host: x']],
  [['OPTIONS * HTTP/1.1', 'Host: x']],
  [['CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443']],
  [['GET /v1/agents/%00 HTTP/1.1', 'Host: x', auth]],
  [['GET /agent/v1%ZZ HTTP/1.1', 'Host: x', ...upgrade]],
  [['GET http://[::1/agent/v1 HTTP/1.1', 'Host: x', ...upgrade]],
  [['GET * HTTP/1.1', 'Host: x', ...upgrade]],
  [['GET /v1/agents/%E0%A4%A HTTP/1.1', 'Host: x', ...upgrade]],
  [['POST /v1/apply HTTP/1.1', 'Host: x', auth, 'Content-Type: application/yaml', `Content-Length: ${Buffer.byteLength(yamlAliasBomb())}`], yamlAliasBomb()],
];
const NUL_DESCRIPTION = JSON.stringify({ name: 'nul-agent', description: 'a\u0000b' });
ATTACKS.push([['POST /v1/agents HTTP/1.1', 'Host: x', auth, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(NUL_DESCRIPTION)}`], NUL_DESCRIPTION]);

describe('a real controller process under hostile requests', () => {
  let controller: ControllerProcess;
  let port: number;
  beforeAll(async () => {
    controller = startControllerProcess(['--port', '0', '--data-dir', join(scratch, 'data')], { TOOLBELT_ADMIN_TOKEN: ADMIN, TOOLBELT_SEED_CATALOG: 'false' });
    port = Number(new URL(await controller.ready).port);
  }, 120_000);
  afterAll(async () => {
    await controller?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it.each(ATTACKS.map(([head, body]) => [head[0]!, head, body] as const))('%s → 4xx or a close, and the process stays up', async (_line, head, body) => {
    const answer = await rawRequest(port, head, body);
    if (answer.status !== undefined) expect(answer.status, answer.text).toBeGreaterThanOrEqual(400);
    if (answer.status !== undefined) expect(answer.status, answer.text).toBeLessThan(500);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    expect(controller.child.exitCode).toBeNull();
  });

  it('logged no error and no query parameters', () => {
    const text = controller.lines.map((l) => JSON.stringify(l)).join('\n');
    expect(controller.lines.filter((l) => typeof l.level === 'number' && l.level >= 50)).toEqual([]);
    expect(text).not.toMatch(/params:|\\u0000|nul-agent/);
    expect(text).not.toContain(ADMIN);
  });
});
