/**
 * `toolbelt apply -f FILE|DIR [--dry-run] [--prune] [--wait [--timeout 5m]]`: sends the
 * documents to `POST /v1/apply` and prints what changed, one line per object. A refused set
 * names the file and document of each problem.
 */
import { parseArgs } from 'node:util';
import { type ApiErrorBody, apiError } from '../client.ts';
import { CliError, type CommandContext, usageError } from '../context.ts';
import { type LoadedDocument, loadManifests } from '../manifests.ts';
import { printStructured } from '../output.ts';
import { parseDuration, waitUntilReady } from './wait.ts';

const USAGE = 'toolbelt apply -f FILE|DIR [-f ...] [--dry-run] [--prune] [--wait] [--timeout 5m]';

interface ApplyAnswer {
  dryRun: boolean;
  changed: boolean;
  results: { kind: string; name: string; action: string; changes?: string[] }[];
}

function parse(args: string[]) {
  try {
    const { values } = parseArgs({
      args,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        'dry-run': { type: 'boolean' },
        prune: { type: 'boolean' },
        wait: { type: 'boolean' },
        timeout: { type: 'string' },
      },
      strict: true,
    });
    if (!values.filename?.length) throw usageError('apply needs -f FILE or -f DIR', USAGE);
    return { ...values, filename: values.filename, timeoutMs: parseDuration(values.timeout ?? '5m') };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw usageError((error as Error).message, USAGE);
  }
}

/** Rewrites `documents[i]` in the server's problems to the file and document it came from. */
function explainRefusal(error: CliError, loaded: LoadedDocument[]): CliError {
  const body = (error as CliError & { body?: ApiErrorBody }).body;
  if (!body?.error.details) return error;
  const lines = body.error.details.map((d) => {
    const match = /^documents\[(\d+)\]\.?(.*)$/.exec(d.path);
    const source = match ? loaded[Number(match[1])]?.source : undefined;
    return source ? `  ${source}: ${match![2] || '(document)'}: ${d.message}` : `  ${d.path}: ${d.message}`;
  });
  const headline = body.error.message.startsWith('apply refused') ? 'apply refused, nothing was changed' : body.error.message;
  return new CliError(headline, 1, [...lines, ...(body.error.hint ? [`hint: ${body.error.hint}`] : [])]);
}

export async function applyCommand(ctx: CommandContext): Promise<void> {
  const options = parse(ctx.args);
  const loaded = loadManifests(options.filename);
  const response = await ctx.client().fetch('POST', '/v1/apply', {
    body: { documents: loaded.map((d) => d.document), dryRun: options['dry-run'] === true, prune: options.prune === true },
  });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) throw explainRefusal(apiError(response.status, body), loaded);
  const answer = body as ApplyAnswer;
  if (printStructured(ctx, answer)) return;
  const suffix = answer.dryRun ? ' (dry run)' : '';
  for (const r of answer.results) {
    const changes = r.changes?.length ? ` (${r.changes.join(', ')})` : '';
    ctx.print(`${r.kind.toLowerCase()}/${r.name} ${r.action}${changes}${suffix}`);
  }
  if (options.wait && !answer.dryRun) {
    const agents = [...new Set(answer.results.filter((r) => r.kind === 'Agent' || r.kind === 'Tool').map((r) => r.name.split('/')[0]!))];
    await waitUntilReady(ctx, agents, options.timeoutMs);
  }
}
