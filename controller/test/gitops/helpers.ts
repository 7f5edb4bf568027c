/**
 * Real git for GitOps' tests: a bare repository on disk (the remote, reached over file://)
 * and a clone to commit and push from; deliveries signed as GitHub signs them.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { Webhooks } from '@octokit/webhooks';
import type { TestDatabase } from '@toolbelt/schema/testing';
import pino from 'pino';
import { parseConfig } from '../../src/config.ts';
import { type RunningController, serveDatabase } from '../../src/controller.ts';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Ada Lovelace',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Ada Lovelace',
  GIT_COMMITTER_EMAIL: 'ada@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A remote (bare) repository and a work clone of it on branch main. */
export class GitRemote {
  readonly root = mkdtempSync(join(tmpdir(), 'toolbelt-gitops-test-'));
  readonly bare = join(this.root, 'remote.git');
  readonly work = join(this.root, 'work');
  readonly url = `file://${this.bare}`;

  constructor() {
    git(this.root, 'init', '--bare', '--quiet', '--initial-branch=main', this.bare);
    git(this.root, 'init', '--quiet', '--initial-branch=main', this.work);
  }

  /** Writes (or, for null, deletes) files, commits and pushes; returns the commit. */
  commit(files: Record<string, string | null>, message = 'change'): string {
    for (const [path, text] of Object.entries(files)) {
      const file = join(this.work, path);
      if (text === null) rmSync(file, { force: true });
      else {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
    }
    git(this.work, 'add', '--all');
    git(this.work, 'commit', '--quiet', '--allow-empty', '-m', message);
    git(this.work, 'push', '--quiet', '--force', this.url, 'HEAD:refs/heads/main');
    return git(this.work, 'rev-parse', 'HEAD');
  }

  /** Rewrites history: the branch becomes one new root commit holding `files` (then force-pushed). */
  rewrite(files: Record<string, string>, message = 'rewritten'): string {
    git(this.work, 'checkout', '--quiet', '--orphan', `rewrite-${randomUUID().slice(0, 8)}`);
    git(this.work, 'rm', '-r', '--quiet', '--cached', '--ignore-unmatch', '.');
    git(this.work, 'clean', '-fdq');
    return this.commit(files, message);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** An Agent manifest. */
export const agent = (name: string, description = `agent ${name}`) =>
  `apiVersion: toolbelt.dev/v1\nkind: Agent\nmetadata:\n  name: ${name}\nspec:\n  description: ${description}\n`;

export const SECRET = 'it is a secret to everybody';

/** A push delivery's body, as GitHub sends it (the fields the webhook reads, and some). */
export function pushPayload(commit: string, ref = 'refs/heads/main'): string {
  return JSON.stringify({ ref, after: commit, before: '0'.repeat(40), deleted: false, pusher: { name: 'ada' }, repository: { full_name: 'acme/desired' } });
}

/** `sha256=…` as GitHub computes it, by hand. */
export function hmac(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The signature from @octokit/webhooks' own signer. */
export async function octokitSignature(secret: string, body: string): Promise<string> {
  return new Webhooks({ secret }).sign(body);
}

/** POSTs a delivery to the webhook. */
export async function deliver(
  url: string,
  body: string,
  headers: { signature?: string; event?: string; delivery?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': headers.event ?? 'push',
      'x-github-delivery': headers.delivery ?? randomUUID(),
      ...(headers.signature ? { 'x-hub-signature-256': headers.signature } : {}),
    },
    body,
  });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, unknown> };
}

export interface GitopsController {
  running: RunningController;
  dataDir: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> /* eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers, read loosely in tests */ }>;
  stop(): Promise<void>;
}

export const ADMIN_TOKEN = `tb_${'g'.repeat(43)}`;

/** A controller (no droplet lifecycle) following `repo`'s main branch. */
export async function startGitopsController(t: TestDatabase, env: Record<string, string>): Promise<GitopsController> {
  const dataDir = mkdtempSync(join(tmpdir(), 'toolbelt-gitops-data-'));
  const config = parseConfig(['--port', '0'], {
    TOOLBELT_ADMIN_TOKEN: ADMIN_TOKEN,
    TOOLBELT_DATA_DIR: dataDir,
    TOOLBELT_SEED_CATALOG: 'false',
    TOOLBELT_GITHUB_WEBHOOK_SECRET: SECRET,
    TOOLBELT_GITOPS_POLL_MS: '600000',
    ...env,
  });
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const running = await serveDatabase(t.database, {
    config,
    logger: pino({ level: 'silent' }),
    options: { stderr: quiet, lifecycle: false },
    ownsDatabase: false,
  });
  return {
    running,
    dataDir,
    async api(method, path, body) {
      const response = await fetch(`${running.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, any> /* eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers, read loosely in tests */ };
    },
    async stop() {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
