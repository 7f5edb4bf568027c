/**
 * The whole controller in this process on a test database — API, hub, loop with the
 * lifecycle and tools reconcilers, the embedded simulator (fast boots) whose droplets are
 * real droplet agent processes (local droplets) — and helpers to drive it over HTTP.
 * Every log line of the controller is kept (`logs`) for the leak checks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestDatabase } from '@toolbelt/schema/testing';
import { openSecretStore } from '../../src/api/secret-setup.ts';
import { parseConfig } from '../../src/config.ts';
import { type ControllerOptions, type RunningController, serveDatabase } from '../../src/controller.ts';
import { createLogger } from '../../src/logger.ts';
import { track } from './leaks.ts';

export interface Answer {
  status: number;
  // Tests read answers loosely; the assertions check their shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export interface E2E {
  controller: RunningController;
  dataDir: string;
  /** The admin token the controller was started with. */
  adminToken: string;
  logs: string[];
  call(method: string, path: string, body?: unknown): Promise<Answer>;
  stop(): Promise<void>;
}

function sink(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
}

export const FAST: Record<string, string> = {
  TOOLBELT_SIMULATOR_BOOT_MS: '200',
  TOOLBELT_SWEEP_FAST_MS: '200',
  TOOLBELT_SWEEP_STEADY_MS: '1000',
  TOOLBELT_CREATE_BATCH_WINDOW_MS: '50',
  TOOLBELT_ORPHAN_GRACE_MS: '0',
  TOOLBELT_RESYNC_INTERVAL_MS: '5000',
};

/** `seams`: the controller's lifecycle seams (e.g. simulator hooks that boot droplets some other way). */
export async function startE2E(t: TestDatabase, env: Record<string, string> = {}, seams: Pick<ControllerOptions, 'lifecycle'> = {}): Promise<E2E> {
  const dataDir = mkdtempSync(join(tmpdir(), 'toolbelt-e2e-'));
  const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
  const config = parseConfig(['--port', '0', '--data-dir', dataDir], {
    ...FAST,
    TOOLBELT_ADMIN_TOKEN: adminToken,
    TOOLBELT_MASTER_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logs: string[] = [];
  const logger = createLogger({ logLevel: 'debug', logFormat: 'json' }, sink(logs));
  const secrets = await openSecretStore(config, t.db, logger);
  const controller = await serveDatabase(t.database, {
    config,
    logger,
    ownsDatabase: false,
    options: { secrets, stderr: sink(logs), toolRetry: { baseMs: 300, maxMs: 3_000 }, ...seams },
  });
  const stop = async () => {
    await controller.stop();
    // An npm install a killed agent started may still be finishing inside a droplet's
    // directory (a local power cut kills the agent and its tools, not npm): retry.
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 20, retryDelay: 500 });
  };
  const forget = track('a controller (startE2E)', stop);
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${controller.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, text };
  };
  return {
    controller,
    dataDir,
    adminToken,
    logs,
    call,
    async stop() {
      forget();
      await stop();
    },
  };
}
