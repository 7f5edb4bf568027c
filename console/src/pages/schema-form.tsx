/**
 * A form generated from a catalog tool's JSON Schema template: one field per property
 * (text, number, checkbox, a select for an `enum`, JSON for objects and arrays), its
 * description as help, its default as the starting value. Validation is the API's: the same
 * template checked by the same validator; its field errors (`config_details.<name>`) are
 * shown at their fields by `errorAt`.
 */
import type { JSX } from 'preact';
import type { JsonSchema } from '../types.ts';

export type ConfigValues = Record<string, string | boolean>;

const kindOf = (s: JsonSchema): 'string' | 'number' | 'boolean' | 'enum' | 'json' => {
  if (s.enum) return 'enum';
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  if (type === 'integer' || type === 'number') return 'number';
  if (type === 'boolean') return 'boolean';
  if (type === 'object' || type === 'array') return 'json';
  return 'string';
};

/** The form's starting values from stored config (or the template's defaults). */
export function initialValues(template: JsonSchema, config: Record<string, unknown> = {}): ConfigValues {
  const values: ConfigValues = {};
  for (const [name, s] of Object.entries(template.properties ?? {})) {
    const v = name in config ? config[name] : s.default;
    const kind = kindOf(s);
    if (kind === 'boolean') values[name] = v === true;
    else if (kind === 'json') values[name] = v === undefined ? '' : JSON.stringify(v, null, 2);
    else values[name] = v === undefined || v === null ? '' : String(v);
  }
  return values;
}

/** Turns form values into `config_details`; a field that cannot be read becomes a local problem. */
export function toConfig(template: JsonSchema, values: ConfigValues): { config: Record<string, unknown>; problems: Record<string, string> } {
  const config: Record<string, unknown> = {};
  const problems: Record<string, string> = {};
  for (const [name, s] of Object.entries(template.properties ?? {})) {
    const raw = values[name];
    const kind = kindOf(s);
    if (kind === 'boolean') config[name] = raw === true;
    else if (raw === '' || raw === undefined) continue;
    else if (kind === 'number') {
      const n = Number(raw);
      if (Number.isNaN(n)) problems[name] = 'must be a number';
      else config[name] = n;
    } else if (kind === 'json') {
      try {
        config[name] = JSON.parse(String(raw));
      } catch {
        problems[name] = 'must be valid JSON';
      }
    } else if (kind === 'enum') config[name] = s.enum!.find((e) => String(e) === raw) ?? raw;
    else config[name] = raw;
  }
  return { config, problems };
}

interface InputProps {
  common: Record<string, unknown>;
  schema: JsonSchema;
  value: string | boolean;
  required: boolean;
  onChange: (v: string | boolean) => void;
}

const onText = (p: InputProps) => (e: Event) => p.onChange((e.target as HTMLInputElement).value);

const INPUTS: Record<ReturnType<typeof kindOf>, (p: InputProps) => JSX.Element> = {
  boolean: (p) => <input type="checkbox" {...p.common} checked={p.value === true} onChange={(e) => p.onChange((e.target as HTMLInputElement).checked)} />,
  enum: (p) => (
    <select {...p.common} value={String(p.value)} onChange={(e) => p.onChange((e.target as HTMLSelectElement).value)}>
      {p.required ? null : <option value="">(not set)</option>}
      {p.schema.enum!.map((v) => (
        <option key={String(v)} value={String(v)}>
          {String(v)}
        </option>
      ))}
    </select>
  ),
  json: (p) => <textarea {...p.common} rows={4} value={String(p.value)} onInput={(e) => p.onChange((e.target as HTMLTextAreaElement).value)} />,
  number: (p) => <input type="number" {...p.common} required={p.required} value={String(p.value)} onInput={onText(p)} />,
  string: (p) => <input type="text" {...p.common} required={p.required} value={String(p.value)} onInput={onText(p)} />,
};

function Field(props: { id: string; name: string; schema: JsonSchema; value: string | boolean; error?: string | undefined; required: boolean; disabled?: boolean; onChange: (v: string | boolean) => void }) {
  const { id, name, schema: s, error } = props;
  const kind = kindOf(s);
  const help = s.description ? `${id}-help` : undefined;
  const describedBy = [help, error ? `${id}-error` : undefined].filter(Boolean).join(' ') || undefined;
  const common = { id, name, disabled: props.disabled, 'aria-invalid': error ? ('true' as const) : undefined, 'aria-describedby': describedBy };
  const input = INPUTS[kind]({ common, schema: s, value: props.value, required: props.required, onChange: props.onChange });
  return (
    <div class={`field ${kind === 'boolean' ? 'inline' : ''}`}>
      <label for={id}>
        {s.title ?? name}
        {props.required ? ' (required)' : ''}
      </label>
      {input}
      {s.description ? (
        <p id={help} class="help">
          {s.description}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} class="field-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The form of `template`. A field's error is `errorAt(\`${path}.${name}\`)` — `path` is where the
 * API puts the values (`config_details` for a tool's settings).
 */
export function SchemaForm(props: {
  idPrefix: string;
  template: JsonSchema;
  values: ConfigValues;
  errorAt: (field: string) => string | undefined;
  onChange: (v: ConfigValues) => void;
  legend?: string;
  path?: string;
  none?: string;
}) {
  const entries = Object.entries(props.template.properties ?? {});
  if (entries.length === 0) return <p class="muted">{props.none ?? 'This tool has no settings.'}</p>;
  const required = new Set(props.template.required ?? []);
  const path = props.path ?? 'config_details';
  return (
    <fieldset>
      <legend>{props.legend ?? 'Settings'}</legend>
      {entries.map(([name, s]) => (
        <Field
          key={name}
          id={`${props.idPrefix}-${name}`}
          name={name}
          schema={s}
          value={props.values[name] ?? ''}
          required={required.has(name)}
          error={props.errorAt(`${path}.${name}`)}
          onChange={(v) => props.onChange({ ...props.values, [name]: v })}
        />
      ))}
    </fieldset>
  );
}
