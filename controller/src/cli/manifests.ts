/**
 * Reading manifests for `apply -f`: files (`.yaml`, `.yml`, `.json`) and directories (their
 * manifest files in name order, not recursive), each document remembered with where it
 * came from so that errors name the file and the document.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CliError } from './context.ts';

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export interface LoadedDocument {
  /** `FILE` or `FILE#N` (N counts from 1 within the file). */
  source: string;
  document: unknown;
}

function filesOf(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new CliError(`cannot read ${path}: no such file or directory`);
  }
  if (!stat.isDirectory()) return [path];
  const files = readdirSync(path)
    .filter((f) => EXTENSIONS.has(extname(f)))
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0) throw new CliError(`${path} holds no .yaml, .yml or .json files`);
  return files;
}

function parseFile(file: string): LoadedDocument[] {
  const text = readFileSync(file, 'utf8');
  if (extname(file) === '.json') {
    try {
      const value = JSON.parse(text) as unknown;
      const list = Array.isArray(value) ? value : [value];
      return list.map((document, i) => ({ source: list.length > 1 ? `${file}#${i + 1}` : file, document }));
    } catch (error) {
      throw new CliError(`${file}: not valid JSON: ${(error as Error).message}`);
    }
  }
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const errors = list.flatMap((d, i) => d.errors.map((e) => `  ${file}#${i + 1}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`));
  if (errors.length > 0) throw new CliError(`${file} is not valid YAML`, 1, errors);
  return list
    .map((d, i) => ({ source: `${file}#${i + 1}`, document: d.toJS() as unknown }))
    .filter((d) => d.document !== null && d.document !== undefined);
}

/** Every document of the given files and directories, in order. */
export function loadManifests(paths: string[]): LoadedDocument[] {
  const documents = paths.flatMap(filesOf).flatMap(parseFile);
  if (documents.length === 0) throw new CliError(`no documents in ${paths.join(', ')}`);
  return documents;
}
