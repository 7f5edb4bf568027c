/**
 * Real git, run as a child process: a shallow fetch of one branch into a bare repository in
 * the data directory, and reading the manifest files of a commit from it (no work tree).
 * Credentials never go on a command line: an https token travels as an `http.extraHeader`
 * set through git's environment (GIT_CONFIG_*), an ssh key through GIT_SSH_COMMAND.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { redactRepo } from './config.ts';

/** Manifest files by their extension, as `toolbelt apply -f` takes them. */
export const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Bounds on what a commit may hold under the path: a huge repository is refused, not read. */
export interface ReadLimits {
  maxFiles: number;
  maxBytes: number;
}
export const DEFAULT_READ_LIMITS: ReadLimits = { maxFiles: 1_000, maxBytes: 8 * 1024 * 1024 };

/** A fetch or read git refused; `message` says why in git's own words (credentials masked). */
export class GitError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GitError';
  }
}

export interface CommitInfo {
  sha: string;
  author: string;
  message: string;
}

export interface ManifestFile {
  /** Relative to the repository's root. */
  path: string;
  text: string;
}

export interface GitRepositoryOptions {
  /** Where the bare repository is kept (created when missing). */
  dir: string;
  repo: string;
  branch: string;
  /** https: a file holding a token; ssh: a private key file. */
  tokenFile?: string | undefined;
  /** How long one git command may take (default 60 s). */
  timeoutMs?: number;
}

/** One remote branch, fetched shallowly into a local bare repository. */
export class GitRepository {
  readonly #options: GitRepositoryOptions;

  constructor(options: GitRepositoryOptions) {
    this.#options = options;
  }

  /** Fetches the branch's head (depth 1; a force-push simply replaces it) and returns its commit. */
  async fetchHead(signal?: AbortSignal): Promise<CommitInfo> {
    const { repo, branch } = this.#options;
    await this.#git(['fetch', '--depth=1', '--no-tags', '--force', '--quiet', repo, `+refs/heads/${branch}:refs/heads/gitops-head`], signal);
    const out = (await this.#git(['log', '-1', '--format=%H%x00%an <%ae>%x00%s', 'refs/heads/gitops-head'], signal)).toString('utf8').trim();
    const [sha = '', author = '', message = ''] = out.split('\0');
    return { sha, author, message };
  }

  /** The manifest files of `sha` under `path` (recursively), in path order; refused past `limits`. */
  async readManifests(sha: string, path: string, limits: ReadLimits = DEFAULT_READ_LIMITS, signal?: AbortSignal): Promise<ManifestFile[]> {
    const listing = (await this.#git(['ls-tree', '-r', '-l', '--full-tree', sha, '--', ...(path ? [path] : [])], signal)).toString('utf8');
    const entries = listing
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [meta = '', file = ''] = line.split('\t');
        const [, type, object, size] = meta.split(/\s+/);
        return { type, object: object ?? '', size: Number(size), file };
      })
      .filter((e) => e.type === 'blob' && MANIFEST_EXTENSIONS.has(extname(e.file)))
      .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const bytes = entries.reduce((sum, e) => sum + e.size, 0);
    if (entries.length > limits.maxFiles || bytes > limits.maxBytes) {
      throw new GitError(
        `${path || 'the repository'} holds ${entries.length} manifest files of ${bytes} bytes at ${sha.slice(0, 12)}; at most ${limits.maxFiles} files and ${limits.maxBytes} bytes are read`,
      );
    }
    const blobs = await this.#catBlobs(entries.map((e) => e.object), signal);
    return entries.map((e, i) => ({ path: e.file, text: blobs[i]!.toString('utf8') }));
  }

  /** `git cat-file --batch`: every blob in one process. */
  async #catBlobs(objects: string[], signal?: AbortSignal): Promise<Buffer[]> {
    if (objects.length === 0) return [];
    const out = await this.#git(['cat-file', '--batch'], signal, `${objects.join('\n')}\n`);
    const blobs: Buffer[] = [];
    let at = 0;
    for (let i = 0; i < objects.length; i++) {
      const eol = out.indexOf(0x0a, at);
      const header = out.subarray(at, eol).toString('utf8').split(' ');
      const size = Number(header[2]);
      if (header[1] !== 'blob' || Number.isNaN(size)) throw new GitError(`git cat-file answered "${header.join(' ')}" for ${objects[i]}`);
      blobs.push(out.subarray(eol + 1, eol + 1 + size));
      at = eol + 1 + size + 1;
    }
    return blobs;
  }

  async #git(args: string[], signal?: AbortSignal, input?: string): Promise<Buffer> {
    if (!existsSync(`${this.#options.dir}/HEAD`)) {
      mkdirSync(this.#options.dir, { recursive: true });
      await this.#run(['init', '--bare', '--quiet', this.#options.dir], signal);
    }
    return this.#run(['--git-dir', this.#options.dir, ...args], signal, input);
  }

  #run(args: string[], signal?: AbortSignal, input?: string): Promise<Buffer> {
    const env = { ...process.env, ...this.#credentialEnv(), GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' };
    const timeout = this.#options.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const child = spawn('git', args, { env, signal, timeout, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', (error) => reject(new GitError(`git ${args[args[0] === '--git-dir' ? 2 : 0]}: ${error.message}`, { cause: error })));
      child.on('close', (code, killed) => {
        if (code === 0) return resolve(Buffer.concat(out));
        const said = this.#redact(Buffer.concat(err).toString('utf8'));
        const lines = said.split('\n').filter((l) => /^(fatal|error|remote):/.test(l));
        const why = explain((lines.length ? lines : said.split('\n').filter(Boolean)).slice(-3).join('; ') || `exit ${code ?? killed}`);
        reject(new GitError(`git ${args[args[0] === '--git-dir' ? 2 : 0]} ${redactRepo(this.#options.repo)}: ${why}`));
      });
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
  }

  /** Git's environment for the configured credentials (none for file:// or a public remote). */
  #credentialEnv(): Record<string, string> {
    const { tokenFile, repo } = this.#options;
    if (!tokenFile) return {};
    let secret: string;
    try {
      secret = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      throw new GitError(`cannot read TOOLBELT_GITOPS_TOKEN_FILE ${tokenFile}: ${(error as Error).message}`, { cause: error });
    }
    if (/^https?:/.test(repo)) {
      const basic = Buffer.from(`x-access-token:${secret}`).toString('base64');
      return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` };
    }
    if (/^ssh:|^[^/:]+@[^/:]+:/.test(repo)) {
      return { GIT_SSH_COMMAND: `ssh -i ${shellQuote(tokenFile)} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new` };
    }
    return {};
  }

  #redact(text: string): string {
    return text.replaceAll(this.#options.repo, redactRepo(this.#options.repo));
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * Git's words for a refused login ("could not read Username … terminal prompts disabled": it
 * was refused and wanted to ask someone) said as the operator needs them.
 */
function explain(why: string): string {
  if (/could not read (Username|Password)|Authentication failed|HTTP 40[13]/.test(why)) {
    return `the remote refused the credentials (check TOOLBELT_GITOPS_TOKEN_FILE: a token that may read the repository): ${why}`;
  }
  return why;
}
