/**
 * From a commit's manifest files to apply's documents, each remembered with its file and its
 * place in that file, so that a refused set names file, document and field — the shape
 * stored in the sync's history (`GitopsProblem`).
 */
import type { GitopsProblem } from '@toolbelt/schema';
import { extname } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { FieldProblem } from '../api/errors.ts';
import type { ManifestFile } from './git.ts';

/** One document of the set and where it came from. */
export interface SourcedDocument {
  file: string;
  /** Its place in the file, from 1. */
  document: number;
  raw: unknown;
}

/** Every document of the files, in order, and the files that do not parse. */
export function parseManifestFiles(files: ManifestFile[]): { documents: SourcedDocument[]; problems: GitopsProblem[] } {
  const documents: SourcedDocument[] = [];
  const problems: GitopsProblem[] = [];
  for (const file of files) {
    if (extname(file.path) === '.json') {
      try {
        const value = JSON.parse(file.text) as unknown;
        (Array.isArray(value) ? value : [value]).forEach((raw, i) => documents.push({ file: file.path, document: i + 1, raw }));
      } catch (error) {
        problems.push({ file: file.path, document: null, field: '(file)', message: `not valid JSON: ${(error as Error).message}` });
      }
      continue;
    }
    parseAllDocuments(file.text).forEach((doc, i) => {
      const errors = doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
      if (errors.length > 0) return void problems.push({ file: file.path, document: i + 1, field: '(document)', message: `not valid YAML: ${errors.join('; ')}` });
      const raw = doc.toJS() as unknown;
      if (raw !== null && raw !== undefined) documents.push({ file: file.path, document: i + 1, raw });
    });
  }
  return { documents, problems };
}

/** Apply's problems (`documents[3].spec.tools[0].version`) as file, document and field. */
export function sourcedProblems(problems: readonly FieldProblem[], documents: readonly SourcedDocument[]): GitopsProblem[] {
  return problems.map((p) => {
    const match = /^documents\[(\d+)\]\.?(.*)$/.exec(p.path);
    const doc = match ? documents[Number(match[1])] : undefined;
    if (!match || !doc) return { file: null, document: null, field: p.path, message: p.message };
    return { file: doc.file, document: doc.document, field: match[2] || '(document)', message: p.message };
  });
}

/** One line per problem: `agents/a.yaml#2 spec.tools[0].version: must be …`. */
export function describeProblems(problems: readonly GitopsProblem[]): string {
  return problems
    .map((p) => `${p.file ?? '(set)'}${p.document === null ? '' : `#${p.document}`} ${p.field}: ${p.message}`)
    .join('; ');
}
