/**
 * The GitOps sync, a reconciler of kind `gitops` with the one key `repo`: the leader's loop
 * runs it when a webhook or the API asks (they record a request and announce the key), every
 * TOOLBELT_GITOPS_POLL_MS (`requeueAfterMs`), and at its resyncs. It reads as steps:
 *
 *   1. take the pending requests (they say what triggered the sync);
 *   2. fetch the branch's head with real git — a failure is recorded (folded into the last
 *      one when it repeats), then thrown so that the loop retries with backoff;
 *   3. the commit already applied: apply nothing, look for drift (drift.ts);
 *   4. read and validate the commit's manifests — a bad one fails the sync naming file,
 *      document and field, and applies nothing;
 *   5. apply them exactly as `toolbelt apply` does (all or nothing, server-side diff, prune
 *      when set), and in the same fenced transaction record the sync and the objects' source.
 */
import type { ReconcileContext, Reconciler, ReconcileResult } from '@toolbelt/reconcilers';
import {
  GITOPS_KEY,
  GITOPS_KIND,
  type GitopsProblem,
  type GitopsRequest,
  type GitopsSync,
  type GitopsSyncInput,
  type GitopsTrigger,
  lastAppliedGitopsSync,
  latestGitopsSync,
  markGitopsRequests,
  pendingGitopsRequests,
  recordGitopsFailure,
  recordGitopsSync,
  replaceGitopsObjects,
} from '@toolbelt/schema';
import { type ApplyResult, ApplyProblems, applyDocuments } from '../api/apply/apply.ts';
import { type IndexedManifest, validateDocuments } from '../api/apply/documents.ts';
import { ApiError } from '../api/errors.ts';
import type { EnvironmentDefaults, WriteContext } from '../api/ops/context.ts';
import { ToolConfigValidator } from '../api/ops/tool-config.ts';
import { redactRepo, type GitopsSettings } from './config.ts';
import { describeProblems, parseManifestFiles, sourcedProblems, type SourcedDocument } from './documents.ts';
import { checkDrift } from './drift.ts';
import { type CommitInfo, DEFAULT_READ_LIMITS, GitError, GitRepository, type ReadLimits } from './git.ts';
import type { GitopsMetrics } from './metrics.ts';

export interface GitopsSyncOptions {
  settings: GitopsSettings;
  /** Where the fetched repository is kept (in the data directory). */
  dir: string;
  /** Region and size of environments the manifests create without them (as the API's). */
  defaults: EnvironmentDefaults;
  metrics?: GitopsMetrics | undefined;
  /** Bounds on a commit's manifests (default 1,000 files, 8 MiB). */
  limits?: ReadLimits;
}

/** A commit's documents, parsed and validated. */
interface Loaded {
  documents: SourcedDocument[];
  validated: IndexedManifest[];
}

/** One sync's facts, threaded through its steps. */
interface Run {
  ctx: ReconcileContext;
  trigger: GitopsTrigger;
  requests: GitopsRequest[];
  startedAt: Date;
}

/** The GitOps reconciler (see the file's comment). */
export function createGitopsReconciler(options: GitopsSyncOptions): Reconciler {
  return new GitopsSyncReconciler(options);
}

class GitopsSyncReconciler implements Reconciler {
  readonly kind = GITOPS_KIND;
  readonly #options: GitopsSyncOptions;
  readonly #settings: GitopsSettings;
  readonly #repository: GitRepository;
  readonly #configs = new ToolConfigValidator();
  readonly #again: ReconcileResult;

  constructor(options: GitopsSyncOptions) {
    this.#options = options;
    const settings = (this.#settings = options.settings);
    this.#repository = new GitRepository({ dir: options.dir, repo: settings.repo, branch: settings.branch, tokenFile: settings.tokenFile });
    this.#again = { requeueAfterMs: settings.pollMs };
  }

  async listKeys(): Promise<string[]> {
    return [GITOPS_KEY];
  }

  async reconcile(ctx: ReconcileContext, key: string): Promise<ReconcileResult> {
    if (key !== GITOPS_KEY) return;
    // 1. What asked for this sync.
    const requests = await pendingGitopsRequests(ctx.db);
    const run: Run = { ctx, requests, trigger: triggerOf(requests), startedAt: new Date(ctx.clock.now()) };
    // 2. The branch's head; a failure is recorded, then retried by the loop with backoff.
    let head: CommitInfo;
    try {
      head = await this.#repository.fetchHead(ctx.signal);
    } catch (error) {
      if (!(error instanceof GitError)) throw error;
      await this.#fail(run, undefined, error.message);
      throw error;
    }
    // 3. Already applied: nothing to write, unless objects drifted.
    const applied = await lastAppliedGitopsSync(ctx.db);
    if (applied?.commit === head.sha) {
      if (requests.length > 0) await ctx.fence.write((tx) => markGitopsRequests(tx, requests.map((r) => r.id), applied.id));
      await this.#recheck(run, head);
      return this.#again;
    }
    // A commit that failed to validate fails again: only a new push or a manual sync retries it.
    const last = await latestGitopsSync(ctx.db);
    if (last?.result === 'failed' && last.commit === head.sha && last.problems.length > 0 && requests.length === 0) return this.#again;
    // 4–5.
    await this.#syncCommit(run, head);
    return this.#again;
  }

  /** Step 4: the commit's documents, validated; a refusal as problems by file, document and field. */
  async #load(run: Run, head: CommitInfo): Promise<Loaded | { error: string; problems: GitopsProblem[] }> {
    let documents: SourcedDocument[];
    try {
      const files = await this.#repository.readManifests(head.sha, this.#settings.path, this.#options.limits ?? DEFAULT_READ_LIMITS, run.ctx.signal);
      const parsed = parseManifestFiles(files);
      if (parsed.problems.length > 0) return { error: `bad manifests: ${describeProblems(parsed.problems)}`, problems: parsed.problems };
      documents = parsed.documents;
    } catch (error) {
      if (!(error instanceof GitError)) throw error;
      return { error: error.message, problems: [] };
    }
    try {
      return { documents, validated: validateDocuments(documents.map((d) => d.raw)) };
    } catch (error) {
      const problems = refusedProblems(error, documents);
      if (!problems) throw error;
      return { error: `bad manifests: ${describeProblems(problems)}`, problems };
    }
  }

  /** Steps 4–5 for a commit: load, then apply; a refused set is a failed sync. */
  async #syncCommit(run: Run, head: CommitInfo): Promise<void> {
    const loaded = await this.#load(run, head);
    if ('error' in loaded) return void (await this.#fail(run, head, loaded.error, loaded.problems));
    try {
      await this.#apply(run, head, loaded);
    } catch (error) {
      const problems = refusedProblems(error, loaded.documents);
      if (!problems) throw error;
      await this.#fail(run, head, `refused, nothing was applied: ${describeProblems(problems)}`, problems);
    }
  }

  /** Step 3: the applied commit again — look for drift, and with self-heal put it back. */
  async #recheck(run: Run, head: CommitInfo): Promise<void> {
    const loaded = await this.#load(run, head);
    if ('error' in loaded) throw new Error(`the applied commit ${head.sha.slice(0, 12)} no longer loads: ${loaded.error}`);
    const { prune, selfHeal } = this.#settings;
    const drifted = await checkDrift({ ctx: run.ctx, documents: loaded.validated, prune, defaults: this.#options.defaults, configs: this.#configs });
    if (drifted && selfHeal) await this.#apply(run, head, loaded);
    else this.#options.metrics?.sync('unchanged', seconds(run));
  }

  /** Step 5: applies a commit's documents in one fenced transaction with its history row and the objects' source. */
  async #apply(run: Run, head: CommitInfo, { documents, validated }: Loaded): Promise<GitopsSync> {
    const sync = await run.ctx.fence.write(async (tx) => {
      const ctx: WriteContext = { tx: tx as unknown as WriteContext['tx'], defaults: this.#options.defaults, configs: this.#configs };
      const results = await applyDocuments(ctx, validated, { prune: this.#settings.prune });
      const row = await recordGitopsSync(tx, { ...this.#base(run, head), result: 'applied', changes: results.filter(changed) });
      const objects = objectsOf(documents, validated);
      await replaceGitopsObjects(tx, { repo: redactRepo(this.#settings.repo), commit: head.sha, at: row.finished_at, objects });
      await markGitopsRequests(tx, run.requests.map((r) => r.id), row.id);
      return row;
    });
    this.#options.metrics?.sync('applied', seconds(run));
    const count = sync.changes.length;
    await run.ctx.events.normal('Synced', `applied ${head.sha.slice(0, 12)} (${run.trigger}): ${count === 0 ? 'no changes' : `${count} change(s)`}`);
    return sync;
  }

  /** Records a failed sync (folded into the last when it repeats) and takes the requests with it. */
  async #fail(run: Run, head: CommitInfo | undefined, error: string, problems: GitopsProblem[] = []): Promise<void> {
    await run.ctx.fence.write(async (tx) => {
      const sync = await recordGitopsFailure(tx, { ...this.#base(run, head), result: 'failed', error, problems });
      await markGitopsRequests(tx, run.requests.map((r) => r.id), sync.id);
    });
    this.#options.metrics?.sync('failed', seconds(run));
    await run.ctx.events.warning(head ? 'SyncFailed' : 'FetchFailed', head ? `${head.sha.slice(0, 12)}: ${error}` : error);
  }

  #base(run: Run, head: CommitInfo | undefined): Omit<GitopsSyncInput, 'result'> {
    const { repo, branch, path } = this.#settings;
    return {
      trigger: run.trigger,
      repo: redactRepo(repo),
      branch,
      path,
      commit: head?.sha ?? null,
      author: head?.author ?? null,
      message: head?.message ?? null,
      started_at: run.startedAt,
      finished_at: new Date(run.ctx.clock.now()),
    };
  }
}

/** The trigger of a sync: a webhook's push wins over a manual request; none means the poll. */
function triggerOf(requests: GitopsRequest[]): GitopsTrigger {
  if (requests.some((r) => r.trigger === 'webhook')) return 'webhook';
  if (requests.some((r) => r.trigger === 'manual')) return 'manual';
  return 'poll';
}

function changed(result: ApplyResult): boolean {
  return result.action !== 'unchanged';
}

function seconds(run: Run): number {
  return (run.ctx.clock.now() - run.startedAt.getTime()) / 1000;
}

/** Every declared object and the file it came from. */
function objectsOf(documents: SourcedDocument[], validated: IndexedManifest[]) {
  return validated.map(({ index, manifest }) => ({ kind: manifest.kind, name: manifest.metadata.name, file: documents[index]!.file }));
}

/** A refused set's problems by file and document, or undefined for an error that is not a refusal. */
function refusedProblems(error: unknown, documents: SourcedDocument[]): GitopsProblem[] | undefined {
  if (error instanceof ApplyProblems) return sourcedProblems(error.problems, documents);
  if (error instanceof ApiError && error.status < 500) {
    return sourcedProblems(error.details?.length ? error.details : [{ path: '(set)', message: error.message }], documents);
  }
  return undefined;
}
