/**
 * `POST /webhooks/github`: GitHub's push webhook, on every replica. The signature
 * (`X-Hub-Signature-256`, an HMAC-SHA256 of the raw body) is checked by `@octokit/webhooks`
 * in constant time before anything else is read; a bad or missing one is a 401, counted and
 * logged without the body. A push to the configured branch records a sync request (once per
 * `X-GitHub-Delivery`: a replay is acknowledged and ignored) and announces the `gitops` key
 * in the same transaction; the leader's loop syncs after the answer. `ping`, other branches
 * and other events are acknowledged and ignored.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhooks } from '@octokit/webhooks';
import { type Db, GITOPS_KEY, GITOPS_KIND, notifySpecChange, requestGitopsSync } from '@toolbelt/schema';
import { readRaw } from '../api/body.ts';
import { ApiError } from '../api/errors.ts';
import { type Router, sendError, sendJson } from '../http/router.ts';
import type { Logger } from '../logger.ts';
import type { GitopsSettings } from './config.ts';
import type { DeliveryOutcome, GitopsMetrics } from './metrics.ts';

export const WEBHOOK_PATH = '/webhooks/github';
/** GitHub caps deliveries at 25 MB; a push's payload is far smaller (it lists at most 20 commits). */
export const MAX_WEBHOOK_BYTES = 5 * 1024 * 1024;

export interface GitHubWebhookOptions {
  db: Db;
  settings: GitopsSettings;
  logger: Logger;
  metrics?: GitopsMetrics | undefined;
  maxBytes?: number;
}

interface PushPayload {
  ref?: unknown;
  after?: unknown;
  deleted?: unknown;
  pusher?: { name?: unknown };
}

/** The GitHub webhook intake (see the file's comment). */
export class GitHubWebhook {
  readonly #options: GitHubWebhookOptions;
  readonly #webhooks: Webhooks | undefined;

  constructor(options: GitHubWebhookOptions) {
    this.#options = options;
    const secret = options.settings.webhookSecret;
    this.#webhooks = secret ? new Webhooks({ secret }) : undefined;
  }

  mount(router: Router): void {
    router.on('POST', WEBHOOK_PATH, ({ req, res }) => this.#handle(req, res));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#webhooks) {
      return sendError(res, 404, {
        code: 'NOT_FOUND',
        message: 'the GitHub webhook is off',
        hint: 'set TOOLBELT_GITHUB_WEBHOOK_SECRET to the secret of the webhook in GitHub',
      });
    }
    const event = header(req, 'x-github-event');
    const delivery = header(req, 'x-github-delivery');
    const log = this.#options.logger.child({ component: 'github-webhook', delivery, event });
    const payload = await this.#verifiedBody(this.#webhooks, req, res, log);
    if (payload === undefined) return;
    if (!event || !delivery || delivery.length > 200) return this.#refuse(res, 'X-GitHub-Event and X-GitHub-Delivery (at most 200 characters) are required');
    if (event === 'ping') {
      this.#count('ping');
      return sendJson(res, 200, { ok: true, event });
    }
    if (event !== 'push') return this.#ignore(res, `event ${event} is not used`);
    await this.#push(res, payload, delivery, log);
  }

  /** The raw body once its signature checks out; otherwise answers (413, 401) and returns undefined. */
  async #verifiedBody(webhooks: Webhooks, req: IncomingMessage, res: ServerResponse, log: Logger): Promise<string | undefined> {
    let raw: Buffer;
    try {
      raw = await readRaw(req, this.#options.maxBytes ?? MAX_WEBHOOK_BYTES);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.#count('too_large');
      return void sendError(res, error.status, error.toBody());
    }
    const payload = raw.toString('utf8');
    const signature = header(req, 'x-hub-signature-256');
    const verified = signature !== undefined && payload !== '' && (await webhooks.verify(payload, signature).catch(() => false));
    if (verified) return payload;
    this.#count('bad_signature');
    log.warn({ bytes: raw.length, signed: signature !== undefined }, 'refused a GitHub delivery: bad or missing X-Hub-Signature-256');
    sendError(res, 401, {
      code: 'BAD_SIGNATURE',
      message: 'X-Hub-Signature-256 is missing or does not match the body',
      hint: "the webhook's secret in GitHub must equal TOOLBELT_GITHUB_WEBHOOK_SECRET",
    });
    return undefined;
  }

  /** A push: to the configured branch, a sync request (once per delivery) announced to the leader. */
  async #push(res: ServerResponse, payload: string, delivery: string, log: Logger): Promise<void> {
    let push: PushPayload;
    try {
      push = JSON.parse(payload) as PushPayload;
    } catch {
      return this.#refuse(res, "the body is not JSON (set the webhook's content type to application/json)");
    }
    const ref = `refs/heads/${this.#options.settings.branch}`;
    if (push.ref !== ref) return this.#ignore(res, `a push to ${String(push.ref)}, not ${ref}`);
    const commit = push.deleted === true || typeof push.after !== 'string' ? undefined : push.after;
    const requestedBy = typeof push.pusher?.name === 'string' ? push.pusher.name : undefined;
    const outcome = await this.#options.db.transaction(async (tx) => {
      const recorded = await requestGitopsSync(tx, { trigger: 'webhook', deliveryId: delivery, commit, requestedBy });
      if (recorded.outcome === 'recorded') await notifySpecChange(tx, { kind: GITOPS_KIND, key: GITOPS_KEY });
      return recorded.outcome;
    });
    if (outcome === 'duplicate') {
      this.#count('duplicate');
      return sendJson(res, 200, { ok: true, duplicate: true, message: 'this delivery was taken already' });
    }
    this.#count('scheduled');
    log.info({ commit }, 'GitHub push: sync scheduled');
    sendJson(res, 202, { ok: true, scheduled: true, commit: commit ?? null });
  }

  #ignore(res: ServerResponse, why: string): void {
    this.#count('ignored');
    sendJson(res, 200, { ok: true, ignored: why });
  }

  #refuse(res: ServerResponse, message: string): void {
    this.#count('bad_request');
    sendError(res, 400, { code: 'BAD_REQUEST', message });
  }

  #count(outcome: DeliveryOutcome): void {
    this.#options.metrics?.delivery(outcome);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
