/**
 * Small checks shared by the handlers. Each throws DigitalOcean's 422 with a message that
 * says which field is wrong and what is expected; nothing is changed before they pass.
 */
import { unprocessable } from './api-error.ts';

/** DigitalOcean's tag names: letters, digits, `_`, `-`, `:`; at most 255 characters. */
export const TAG_PATTERN = /^[a-zA-Z0-9_\-:]+$/;

/** DigitalOcean's droplet names (a hostname-like string), at most 255 characters. */
export const DROPLET_NAME_PATTERN = /^[a-zA-Z0-9]?[a-z0-9A-Z.-]*[a-z0-9A-Z]$/;

export function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw unprocessable('The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw unprocessable(`${field} must be a string.`);
  return value;
}

export function requiredString(body: Record<string, unknown>, field: string): string {
  const value = optionalString(body, field);
  if (value === undefined || value === '') throw unprocessable(`${field} is required.`);
  return value;
}

export function optionalBoolean(body: Record<string, unknown>, field: string): boolean {
  const value = body[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw unprocessable(`${field} must be true or false.`);
  return value;
}

/** An array of strings (null and absent are an empty list). */
export function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw unprocessable(`${field} must be an array of strings.`);
  }
  return value as string[];
}

export function checkTagName(name: string): string {
  if (name.length > 255) throw unprocessable(`tag-name "${name.slice(0, 40)}…" is longer than 255 characters`);
  if (!TAG_PATTERN.test(name)) throw unprocessable(`tag-name "${name}" contains invalid characters`);
  return name;
}

export function checkDropletName(name: string): string {
  if (name.length > 255 || !DROPLET_NAME_PATTERN.test(name)) {
    throw unprocessable(
      `Droplet name "${name.slice(0, 60)}" is not valid: use letters, digits, '.' and '-', at most 255 characters, starting and ending with a letter or digit.`,
    );
  }
  return name;
}
