/**
 * Tool configuration checked against the catalog: `config_details` must satisfy the catalog
 * tool's `default_config_template` (a JSON Schema; its `default`s are filled in), and every
 * environment variable the template lists under `x-toolbelt-secrets` must be bound to a
 * secret by name; only those and the ones under `x-toolbelt-optional-secrets` may be bound,
 * and no template may name a reserved variable (`isReservedEnvName`).
 */
import type { CatalogTool } from '@toolbelt/schema';
import { RESERVED_ENV_HINT, reservedEnvNames } from '@toolbelt/schema/protocol';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { type FieldProblem, formatPath } from '../errors.ts';

/** The template keyword listing the environment variables that must be bound to secrets. */
export const SECRETS_KEYWORD = 'x-toolbelt-secrets';
/** The template keyword listing the environment variables that may be bound to secrets. */
export const OPTIONAL_SECRETS_KEYWORD = 'x-toolbelt-optional-secrets';
const ENV_KEYWORD = 'x-toolbelt-env';
const LAUNCH_KEYWORD = 'x-toolbelt-launch';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every environment variable a template names: secrets, settings given as variables, fixed launch variables. */
function templateEnvNames(template: Record<string, unknown>): string[] {
  const names: string[] = [];
  for (const keyword of [SECRETS_KEYWORD, OPTIONAL_SECRETS_KEYWORD]) {
    const list = template[keyword];
    if (Array.isArray(list)) names.push(...list.filter((n): n is string => typeof n === 'string'));
  }
  const properties = isRecord(template.properties) ? template.properties : {};
  for (const schema of Object.values(properties)) if (isRecord(schema) && typeof schema[ENV_KEYWORD] === 'string') names.push(schema[ENV_KEYWORD]);
  const launch = template[LAUNCH_KEYWORD];
  if (isRecord(launch) && isRecord(launch.env)) names.push(...Object.keys(launch.env));
  return names;
}

/** Why a template's variables cannot be used (not a list of names, or a reserved name), if so. */
function envProblem(template: Record<string, unknown>): string | undefined {
  for (const keyword of [SECRETS_KEYWORD, OPTIONAL_SECRETS_KEYWORD]) {
    const list = template[keyword];
    if (list !== undefined && !(Array.isArray(list) && list.every((s) => typeof s === 'string' && ENV_NAME.test(s)))) {
      return `${keyword} must be an array of environment variable names`;
    }
  }
  const reserved = reservedEnvNames(templateEnvNames(template));
  if (reserved.length > 0) return `names reserved environment variable(s) ${[...new Set(reserved)].join(', ')}: ${RESERVED_ENV_HINT}`;
  return undefined;
}
const MAX_CACHED = 1_000;

function createAjv(draft2020: boolean): Ajv {
  // strict: false lets templates carry annotations such as x-toolbelt-secrets.
  const options = { strict: false, useDefaults: true, allErrors: true };
  const ajv = draft2020 ? new Ajv2020(options) : new Ajv(options);
  addFormats.default(ajv as never);
  return ajv;
}

/**
 * The template as compiled: without its top-level `$id`, since ajv refuses a second schema
 * with the same id (two generations of one tool, or two tools sharing an id).
 */
const compilable = ({ $id: _id, ...rest }: Record<string, unknown>): Record<string, unknown> => rest;

const is2020 = (template: Record<string, unknown>): boolean =>
  typeof template.$schema === 'string' && template.$schema.includes('2020-12');

function problemOf(error: ErrorObject, prefix: readonly PropertyKey[]): FieldProblem {
  const segments = error.instancePath.split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  if (params.missingProperty) segments.push(params.missingProperty);
  if (params.additionalProperty) segments.push(params.additionalProperty);
  const message =
    error.keyword === 'required'
      ? 'is required by the catalog tool\'s config template'
      : error.keyword === 'additionalProperties'
        ? 'is not a setting of this tool'
        : (error.message ?? 'is invalid');
  return { path: formatPath([...prefix, ...segments]), message };
}

/** Compiles and caches config templates (by catalog id and generation). */
export class ToolConfigValidator {
  readonly #ajv = createAjv(false);
  readonly #ajv2020 = createAjv(true);
  readonly #cache = new Map<string, ValidateFunction>();

  /** Why a template cannot be used, or undefined when it compiles. */
  templateProblem(template: Record<string, unknown>): string | undefined {
    const ajv = is2020(template) ? this.#ajv2020 : this.#ajv;
    const schema = compilable(template);
    try {
      ajv.compile(schema);
    } catch (error) {
      return `not a usable JSON Schema: ${(error as Error).message}`;
    } finally {
      // ajv keeps every schema object it compiled; this one was only a check.
      ajv.removeSchema(schema);
    }
    return envProblem(template);
  }

  /**
   * The config with the template's defaults filled in, or the problems found (each under
   * `prefix`). The input is not modified.
   */
  check(
    catalog: CatalogTool,
    config: Record<string, unknown>,
    prefix: readonly PropertyKey[],
  ): { config: Record<string, unknown>; problems: FieldProblem[] } {
    const validate = this.#compiled(catalog);
    const copy = structuredClone(config);
    if (validate(copy)) return { config: copy, problems: [] };
    return { config: copy, problems: (validate.errors ?? []).map((e) => problemOf(e, prefix)) };
  }

  /** The environment variables the catalog tool needs bound to secrets. */
  requiredSecrets(catalog: CatalogTool): string[] {
    const secrets = catalog.default_config_template[SECRETS_KEYWORD];
    return Array.isArray(secrets) ? secrets.filter((s): s is string => typeof s === 'string') : [];
  }

  /** Every environment variable a secret may be bound to: the required and the optional ones. */
  secretVariables(catalog: CatalogTool): string[] {
    const optional = catalog.default_config_template[OPTIONAL_SECRETS_KEYWORD];
    return [...this.requiredSecrets(catalog), ...(Array.isArray(optional) ? optional.filter((s): s is string => typeof s === 'string') : [])];
  }

  #compiled(catalog: CatalogTool): ValidateFunction {
    const key = `${catalog.id}@${catalog.generation}`;
    let validate = this.#cache.get(key);
    if (!validate) {
      const template = catalog.default_config_template;
      validate = (is2020(template) ? this.#ajv2020 : this.#ajv).compile(compilable(template));
      // Old generations are never asked for again; a bound keeps the cache from growing forever.
      if (this.#cache.size >= MAX_CACHED) {
        this.#cache.clear();
        this.#ajv.removeSchema();
        this.#ajv2020.removeSchema();
      }
      this.#cache.set(key, validate);
    }
    return validate;
  }
}
