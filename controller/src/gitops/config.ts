/**
 * GitOps' settings, merged into the controller's one config schema (config.ts). Without
 * TOOLBELT_GITOPS_REPO GitOps is off: no sync runs and `POST /webhooks/github` answers 404.
 */
import { z } from 'zod';
import { blankToUndefined, flag, milliseconds } from '../config-fields.ts';

export const GITOPS_SETTINGS = {
  gitopsRepo: {
    env: 'TOOLBELT_GITOPS_REPO',
    flag: 'gitops-repo',
    help: 'the git repository of desired state (https://, ssh:// or git@host:path, file://); unset turns GitOps off',
  },
  gitopsBranch: { env: 'TOOLBELT_GITOPS_BRANCH', flag: 'gitops-branch', help: 'the branch GitOps follows' },
  gitopsPath: { env: 'TOOLBELT_GITOPS_PATH', flag: 'gitops-path', help: 'the folder of manifests in the repository (default: its root)' },
  gitopsPrune: { env: 'TOOLBELT_GITOPS_PRUNE', flag: 'gitops-prune', help: 'delete what the repository no longer declares, as `apply --prune` (true/false)' },
  gitopsPollMs: { env: 'TOOLBELT_GITOPS_POLL_MS', flag: 'gitops-poll-ms', help: 'how often the branch is fetched without a webhook (webhooks get lost)' },
  gitopsTokenFile: {
    env: 'TOOLBELT_GITOPS_TOKEN_FILE',
    flag: 'gitops-token-file',
    help: 'credentials of the repository: for https a file holding a token, for ssh a private key file',
  },
  gitopsSelfHeal: {
    env: 'TOOLBELT_GITOPS_SELF_HEAL',
    flag: 'gitops-self-heal',
    help: 'put objects changed around git back as git declares them at the next sync (true/false)',
  },
  githubWebhookSecret: {
    env: 'TOOLBELT_GITHUB_WEBHOOK_SECRET',
    flag: 'github-webhook-secret',
    help: "the GitHub webhook's secret (X-Hub-Signature-256); unset: the webhook answers 404 and only the poll syncs",
    secret: true,
  },
} as const;

const optionalText = z.preprocess(blankToUndefined, z.string().min(1).optional());

export const gitopsFields = {
  gitopsRepo: optionalText,
  gitopsBranch: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]+$/, 'must be a branch name (letters, digits, . _ / -)')
      .default('main'),
  ),
  gitopsPath: z.preprocess(
    blankToUndefined,
    z
      .string()
      .refine((p) => !p.split('/').includes('..'), 'must stay inside the repository (no ..)')
      .transform((p) => p.replace(/^\/+|\/+$/g, ''))
      .default(''),
  ),
  gitopsPrune: flag(false),
  gitopsPollMs: milliseconds(1_000, 300_000),
  gitopsTokenFile: optionalText,
  gitopsSelfHeal: flag(false),
  githubWebhookSecret: optionalText,
};

/** GitOps' settings as the sync and the webhook take them. */
export interface GitopsSettings {
  repo: string;
  branch: string;
  /** '' for the repository's root. */
  path: string;
  prune: boolean;
  pollMs: number;
  tokenFile: string | undefined;
  selfHeal: boolean;
  webhookSecret: string | undefined;
}

/** GitOps' settings, or undefined when it is off (no repository). */
export function gitopsSettingsOf(config: {
  gitopsRepo?: string | undefined;
  gitopsBranch: string;
  gitopsPath: string;
  gitopsPrune: boolean;
  gitopsPollMs: number;
  gitopsTokenFile?: string | undefined;
  gitopsSelfHeal: boolean;
  githubWebhookSecret?: string | undefined;
}): GitopsSettings | undefined {
  if (!config.gitopsRepo) return undefined;
  return {
    repo: config.gitopsRepo,
    branch: config.gitopsBranch,
    path: config.gitopsPath,
    prune: config.gitopsPrune,
    pollMs: config.gitopsPollMs,
    tokenFile: config.gitopsTokenFile,
    selfHeal: config.gitopsSelfHeal,
    webhookSecret: config.githubWebhookSecret,
  };
}

/** The repository's address with any password or token in it masked, for logs and the API. */
export function redactRepo(repo: string): string {
  return repo.replace(/\/\/([^/@:]+)(:[^/@]*)?@/, (_m, user: string, pass: string | undefined) => `//${pass ? `${user}:***` : user}@`);
}
