/**
 * Reading request bodies and query strings: a size limit, JSON or (where a route allows
 * it) a YAML document stream, and errors that say what was wrong and where.
 */
import type { IncomingMessage } from 'node:http';
import { type Document, parseAllDocuments } from 'yaml';
import { ApiError, invalid } from './errors.ts';

/** Alias expansions one YAML document may make; each may copy a large node. */
const MAX_YAML_ALIASES = 100;
const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']);

/** The raw body, refused with 413 past `maxBytes` (declared or sent). */
export async function readRaw(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'BODY_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`, {
    hint: 'split the request (for apply: fewer documents per call)',
  });
}

/**
 * The parsed body: `undefined` when empty, a JSON value, or — for YAML — `{ documents }`
 * holding each document of the stream.
 */
export async function readBody(
  req: IncomingMessage,
  options: { maxBytes: number; allowYaml: boolean },
): Promise<unknown> {
  const raw = await readRaw(req, options.maxBytes);
  if (raw.length === 0) return undefined;
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  const text = raw.toString('utf8');
  if (options.allowYaml && YAML_TYPES.has(type)) return { documents: parseYamlStream(text) };
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type} is not accepted here`, {
      hint: options.allowYaml ? 'send application/json or application/yaml' : 'send application/json',
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid([{ path: '(body)', message: `not valid JSON: ${(error as Error).message}` }]);
  }
}

/** Parses a YAML stream (`---` separated); a syntax error names the document and line. */
export function parseYamlStream(text: string): unknown[] {
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [documents];
  const problems = list.flatMap((doc, index) =>
    doc.errors.map((e) => ({
      path: `documents[${index}]`,
      message: `YAML syntax error at line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`,
    })),
  );
  if (problems.length > 0) throw invalid(problems);
  return list.map((doc, index) => documentValue(doc, index)).filter((doc) => doc !== null && doc !== undefined);
}

/**
 * One document's value. An alias bomb (aliases of aliases, a billion laughs) stops at
 * `maxAliasCount` with a 400; any other refusal of the yaml library is a 400 too.
 */
function documentValue(doc: Document.Parsed, index: number): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown;
  } catch (error) {
    throw invalid([{ path: `documents[${index}]`, message: `YAML refused: ${(error as Error).message.split('\n')[0]}` }]);
  }
}
