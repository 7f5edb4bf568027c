/**
 * The whole controller in this process for the agent-socket attacks — API, hub, loop with the
 * tools reconciler, no droplet lifecycle — on a test database, keeping every log line (to
 * look for leaked secrets) and a helper to call the API as admin.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestDatabase } from '@toolbelt/schema/testing';
import { openSecretStore } from '../../src/api/secret-setup.ts';
import { parseConfig } from '../../src/config.ts';
import { type RunningController, serveDatabase } from '../../src/controller.ts';
import { createLogger } from '../../src/logger.ts';
import { track } from '../support/leaks.ts';

export interface SocketController {
  controller: RunningController;
  adminToken: string;
  /** ws://…/agent/v1 */
  agentUrl: string;
  /** Every log line so far (JSON text). */
  lines: string[];
  call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

export async function startSocketController(t: TestDatabase, options: { logLevel?: 'debug' | 'warn' } = {}): Promise<SocketController> {
  const dataDir = mkdtempSync(join(tmpdir(), 'toolbelt-security-'));
  const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
  const logLevel = options.logLevel ?? 'debug';
  const config = parseConfig(['--port', '0', '--data-dir', dataDir], {
    TOOLBELT_ADMIN_TOKEN: adminToken,
    TOOLBELT_MASTER_KEY: randomBytes(32).toString('base64'),
    TOOLBELT_SEED_CATALOG: 'false',
    LOG_LEVEL: logLevel,
  });
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString('utf8')), done()) });
  const logger = createLogger({ logLevel, logFormat: 'json' }, sink);
  const secrets = await openSecretStore(config, t.db, logger);
  const controller = await serveDatabase(t.database, { config, logger, ownsDatabase: false, options: { secrets, lifecycle: false, stderr: sink } });
  const stop = async () => {
    await controller.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  const forget = track('a controller (startSocketController)', stop);
  const call = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${controller.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, text: await res.text() };
  };
  return {
    controller,
    adminToken,
    agentUrl: `${controller.url.replace(/^http/, 'ws')}/agent/v1`,
    lines,
    call,
    async stop() {
      forget();
      await stop();
    },
  };
}
