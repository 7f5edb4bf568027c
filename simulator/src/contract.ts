/**
 * DigitalOcean's OpenAPI description as an executable contract: validate a request body or
 * a response body against the schema the document gives for that path, method and status.
 * The simulator's contract test uses it on every answer; the provider uses it on the
 * requests it sends. The document (openapi/openapi.json, Apache-2.0, from
 * digitalocean/openapi) is read on first use, never at import.
 *
 * $refs in the document are JSON pointers into the document itself (`#/paths/...`); Ajv
 * resolves them once the whole document is registered under one id. Response objects can be
 * `$ref`s too, so those are followed by hand to find the schema's own pointer.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';

/** The outcome of a validation: valid, or the reasons it is not. */
export interface ContractResult {
  readonly valid: boolean;
  readonly errors: readonly string[];
}

export interface Contract {
  /** Validates a request body against `paths[pathTemplate][method].requestBody`. */
  validateRequest(method: string, pathTemplate: string, body: unknown): ContractResult;
  /**
   * Validates a response body against the schema for `status` (or `default` when the
   * status is not listed). A response without content in the document must have no body.
   */
  validateResponse(method: string, pathTemplate: string, status: number, body: unknown): ContractResult;
  /** The document's path template for a concrete path (`/v2/droplets/7` → `/v2/droplets/{droplet_id}`). */
  pathTemplateOf(path: string): string | undefined;
}

/** Where the vendored document lives. */
export const OPENAPI_DOCUMENT = new URL('../openapi/openapi.json', import.meta.url);

type Json = Record<string, unknown>;
const DOC_ID = 'digitalocean-openapi';
const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');

function at(doc: Json, pointer: string): unknown {
  return pointer
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, segment) => (node as Json | undefined)?.[unescapePointer(segment)], doc);
}

/** Follows `$ref`s from `pointer` and returns the pointer of the object finally reached. */
function followRefs(doc: Json, pointer: string): string {
  for (let i = 0; i < 20; i += 1) {
    const ref = (at(doc, pointer) as Json | undefined)?.$ref;
    if (typeof ref !== 'string') return pointer;
    pointer = ref;
  }
  throw new Error(`$ref chain too long at ${pointer}`);
}

function describeErrors(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'} [${e.schemaPath}]`);
}

/** Loads the document (default: the vendored one) and prepares validators lazily. */
export function loadContract(documentPath: string | URL = OPENAPI_DOCUMENT): Contract {
  const doc = JSON.parse(readFileSync(documentPath, 'utf8')) as Json;
  // unicodeRegExp: false because the tag-name pattern uses `\:`, which unicode mode rejects.
  const ajv = new Ajv({ strict: false, unicodeRegExp: false, allErrors: true, validateFormats: true });
  (formatsPlugin as unknown as (a: Ajv) => void)(ajv);
  ajv.addSchema(doc, DOC_ID);
  const validators = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string) => {
    let validate = validators.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `${DOC_ID}${pointer}` });
      validators.set(pointer, validate);
    }
    return validate;
  };
  const operation = (method: string, template: string) => {
    const pointer = `#/paths/${escapePointer(template)}/${method.toLowerCase()}`;
    if (!at(doc, pointer)) throw new Error(`the OpenAPI document has no operation ${method.toUpperCase()} ${template}`);
    return pointer;
  };
  const check = (schemaPointer: string, body: unknown): ContractResult => {
    const validate = validatorAt(schemaPointer);
    return validate(body) ? { valid: true, errors: [] } : { valid: false, errors: describeErrors(validate) };
  };
  const templates = compileTemplates(Object.keys(doc.paths as Json));

  return {
    validateRequest(method, template, body) {
      const requestPointer = followRefs(doc, `${operation(method, template)}/requestBody`);
      const schemaPointer = `${requestPointer}/content/application~1json/schema`;
      if (!at(doc, schemaPointer)) return body === undefined ? { valid: true, errors: [] } : { valid: false, errors: ['the operation takes no JSON body'] };
      if (body === undefined) return { valid: false, errors: ['the operation requires a JSON body'] };
      return check(schemaPointer, body);
    },
    validateResponse(method, template, status, body) {
      const op = operation(method, template);
      const responses = at(doc, `${op}/responses`) as Json;
      const key = String(status) in responses ? String(status) : 'default';
      if (!(key in responses)) return { valid: false, errors: [`status ${status} is not documented and there is no default response`] };
      const schemaPointer = `${followRefs(doc, `${op}/responses/${key}`)}/content/application~1json/schema`;
      if (!at(doc, schemaPointer)) {
        return body === undefined || body === '' ? { valid: true, errors: [] } : { valid: false, errors: [`status ${status} has no body in the document`] };
      }
      return check(schemaPointer, body);
    },
    pathTemplateOf: (path) => templates(path),
  };
}

/** Matches concrete paths to templates, preferring the template with the fewest parameters. */
function compileTemplates(paths: string[]): (path: string) => string | undefined {
  const compiled = paths
    .map((template) => ({
      template,
      params: (template.match(/\{/g) ?? []).length,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
    }))
    .sort((a, b) => a.params - b.params);
  return (path) => compiled.find((c) => c.pattern.test(path.split('?')[0]!))?.template;
}

let shared: Contract | undefined;

/** The vendored document's contract, loaded on first use and shared. */
export function digitalOceanContract(): Contract {
  shared ??= loadContract();
  return shared;
}

/** Validates a request body against DigitalOcean's document (see Contract.validateRequest). */
export function validateRequest(method: string, pathTemplate: string, body: unknown): ContractResult {
  return digitalOceanContract().validateRequest(method, pathTemplate, body);
}

/** Validates a response body against DigitalOcean's document (see Contract.validateResponse). */
export function validateResponse(method: string, pathTemplate: string, status: number, body: unknown): ContractResult {
  return digitalOceanContract().validateResponse(method, pathTemplate, status, body);
}
