/**
 * The first step of `apply`: every document is validated against the manifest schemas
 * before anything is written. Problems name the document (`documents[2]`, its kind and
 * name), the field and the reason; one bad document refuses the whole set.
 */
import { type Manifest, MANIFEST_KINDS, manifestSchema } from '@toolbelt/schema';
import { type FieldProblem, formatPath, invalid, zodProblems } from '../errors.ts';

/** A validated document and where it stood in the set. */
export interface IndexedManifest {
  index: number;
  manifest: Manifest;
}

/** How a document is named in messages: `documents[2] (Agent "alpha")`. */
export function describeDocument(index: number, raw: unknown): string {
  const doc = (raw ?? {}) as { kind?: unknown; metadata?: { name?: unknown } };
  const kind = typeof doc.kind === 'string' ? doc.kind : 'document';
  const name = typeof doc.metadata?.name === 'string' ? ` "${doc.metadata.name}"` : '';
  return `documents[${index}] (${kind}${name})`;
}

function kindProblem(index: number, raw: unknown): FieldProblem | undefined {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  if (typeof kind === 'string' && (MANIFEST_KINDS as readonly string[]).includes(kind)) return undefined;
  return {
    path: formatPath(['documents', index, 'kind']),
    message: `must be one of ${MANIFEST_KINDS.join(', ')}${kind === undefined ? '' : ` (got ${JSON.stringify(kind)})`}`,
  };
}

/** Validates every document; throws a 400 naming each problem, or returns them all. */
export function validateDocuments(documents: unknown[]): IndexedManifest[] {
  const problems: FieldProblem[] = [];
  const valid: IndexedManifest[] = [];
  documents.forEach((raw, index) => {
    const bad = kindProblem(index, raw);
    if (bad) return void problems.push(bad);
    const parsed = manifestSchema.safeParse(raw);
    if (parsed.success) valid.push({ index, manifest: parsed.data });
    else problems.push(...zodProblems(parsed.error, ['documents', index]));
  });
  const seen = new Map<string, number>();
  for (const { index, manifest } of valid) {
    const key = `${manifest.kind}/${manifest.metadata.name}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({ path: formatPath(['documents', index, 'metadata', 'name']), message: `${key} is declared twice (also documents[${first}])` });
    }
    seen.set(key, index);
  }
  if (problems.length > 0) throw refusal(problems, documents);
  return valid;
}

/** The 400 of a refused set: each problem prefixed by the document it is in. */
export function refusal(problems: FieldProblem[], documents: unknown[]) {
  const lines = problems.map((p) => {
    const index = Number(/^documents\[(\d+)\]/.exec(p.path)?.[1]);
    const where = Number.isNaN(index) ? '' : `${describeDocument(index, documents[index])} `;
    return `${where}${p.path.replace(/^documents\[\d+\]\.?/, '') || '(document)'}: ${p.message}`;
  });
  return invalid(problems, `apply refused, nothing was changed: ${lines.join('; ')}`);
}
