/**
 * Real git for GitOps' tests: a bare repository on disk (the remote, reached over file://)
 * and a clone to commit and push from; deliveries signed as GitHub signs them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { Webhooks } from '@octokit/webhooks';
import type { Database } from '@toolbelt/schema';
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

/** A controller (no droplet lifecycle) following `repo`'s main branch, on the test's database or another pool of it (a second replica). */
export async function startGitopsController(t: TestDatabase, env: Record<string, string>, database: Database = t.database): Promise<GitopsController> {
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
  const running = await serveDatabase(database, {
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

/**
 * Git's own smart HTTP in front of a remote: `git http-backend` (CGI) behind a loopback
 * server that asks for `Authorization: Basic x-access-token:<token>`, as GitHub does.
 */
export async function serveSmartHttp(remote: GitRemote, token: string): Promise<{ url: string; requests: { path: string; status: number }[]; close(): Promise<void> }> {
  const requests: { path: string; status: number }[] = [];
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const done = (status: number) => requests.push({ path: url.pathname, status });
    if (req.headers.authorization !== expected) {
      done(401);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('credentials, please\n');
      return;
    }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...GIT_ENV,
        GIT_PROJECT_ROOT: remote.root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
        REMOTE_USER: 'x-access-token',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let answered = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (answered) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      answered = true;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = Number(headers.status?.split(' ')[0] ?? 200);
      delete headers.status;
      done(status);
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/remote.git`,
    requests,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
