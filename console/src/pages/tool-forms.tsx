/**
 * The toolbelt's forms: add a tool from the catalog (version, instance name, settings from
 * its template, secret bindings) and configure an installed one. Secret values are
 * write-only: typed once, sent to `PUT …/secrets/{name}`, never shown again.
 */
import { useMemo, useState } from 'preact/hooks';
import { ApiError, api } from '../api.ts';
import { Dialog, ErrorBox, Loading, useApi } from '../components.tsx';
import type { CatalogTool, Page, Tool } from '../types.ts';
import { type ConfigValues, initialValues, SchemaForm, toConfig } from './schema-form.tsx';

interface Binding {
  env: string;
  secret: string;
  value: string;
}

function SecretBindings(props: { bindings: Binding[]; required: string[]; declared: string[]; errorAt: (f: string) => string | undefined; onChange: (b: Binding[]) => void }) {
  const set = (i: number, patch: Partial<Binding>) => props.onChange(props.bindings.map((b, j) => (j === i ? { ...b, ...patch } : b)));
  return (
    <fieldset>
      <legend>Secrets</legend>
      <p class="help">Bind an environment variable of the tool to one of the agent's secrets. A value typed here is stored encrypted and never shown again; leave it empty to keep the secret's current value.</p>
      {props.bindings.map((b, i) => (
        <div class="binding" key={i}>
          <div class="field">
            <label for={`bind-env-${i}`}>Environment variable{props.required.includes(b.env) ? ' (required)' : ''}</label>
            <input id={`bind-env-${i}`} value={b.env} readOnly={props.declared.includes(b.env)} onInput={(e) => set(i, { env: (e.target as HTMLInputElement).value })} />
          </div>
          <div class="field">
            <label for={`bind-secret-${i}`}>Secret name</label>
            <input id={`bind-secret-${i}`} value={b.secret} aria-invalid={props.errorAt(`secret_refs.${b.env}`) ? 'true' : undefined} aria-describedby={`bind-secret-${i}-error`} onInput={(e) => set(i, { secret: (e.target as HTMLInputElement).value })} />
            <p id={`bind-secret-${i}-error`} class="field-error">{props.errorAt(`secret_refs.${b.env}`) ?? ''}</p>
          </div>
          <div class="field">
            <label for={`bind-value-${i}`}>Secret value (write-only)</label>
            <input id={`bind-value-${i}`} type="password" autoComplete="new-password" value={b.value} onInput={(e) => set(i, { value: (e.target as HTMLInputElement).value })} />
          </div>
        </div>
      ))}
      <button type="button" class="secondary" onClick={() => props.onChange([...props.bindings, { env: '', secret: '', value: '' }])}>
        Add a secret binding
      </button>
    </fieldset>
  );
}

/** The template's secret variables: required ones (`x-toolbelt-secrets`) and optional ones. */
function secretsOf(template: CatalogTool['default_config_template']): { required: string[]; declared: string[] } {
  const required = template['x-toolbelt-secrets'] ?? [];
  const optional = (template['x-toolbelt-optional-secrets'] as string[] | undefined) ?? [];
  return { required, declared: [...required, ...optional] };
}

/** One row per declared variable (and per existing binding); an optional one starts unbound. */
const bindingsOf = (template: CatalogTool['default_config_template'], refs: Record<string, string> = {}): Binding[] => {
  const { required, declared } = secretsOf(template);
  const envs = [...new Set([...declared, ...Object.keys(refs)])];
  return envs.map((env) => ({ env, secret: refs[env] ?? (required.includes(env) ? env.toLowerCase().replace(/_/g, '-') : ''), value: '' }));
};

/** Stores typed secret values, then sends the tool's body; errors come back per field. */
async function saveWithSecrets(agentId: string, bindings: Binding[], send: () => Promise<unknown>): Promise<void> {
  for (const b of bindings) {
    if (b.value && b.secret) await api(`/v1/agents/${encodeURIComponent(agentId)}/secrets/${encodeURIComponent(b.secret)}`, { method: 'PUT', body: { value: b.value } });
  }
  await send();
}

function useFormErrors() {
  const [error, setError] = useState<ApiError | Error | undefined>(undefined);
  const [local, setLocal] = useState<Record<string, string>>({});
  const errorAt = (field: string) =>
    (field.startsWith('config_details.') ? local[field.slice('config_details.'.length)] : undefined) ??
    (error instanceof ApiError ? error.details.find((d) => d.path === field || d.path.startsWith(`${field}.`))?.message : undefined);
  return { error, setError, setLocal, errorAt };
}

function generalErrorOf(error: ApiError | Error | undefined): ApiError | Error | undefined {
  return error && !(error instanceof ApiError && error.details.length) ? error : undefined;
}

function ToolPicker(props: { items: CatalogTool[]; tool: CatalogTool; version: string; onTool: (name: string) => void; onVersion: (v: string) => void }) {
  const { tool } = props;
  return (
    <>
      <label for="add-tool">Tool</label>
      <select id="add-tool" value={tool.tool_name} onChange={(e) => props.onTool((e.target as HTMLSelectElement).value)}>
        {props.items.map((t) => (
          <option key={t.id} value={t.tool_name}>
            {t.tool_name}
          </option>
        ))}
      </select>
      <p class="help">{tool.description}</p>
      <label for="add-version">Version</label>
      <select id="add-version" value={props.version || tool.version_info.default} onChange={(e) => props.onVersion((e.target as HTMLSelectElement).value)}>
        {tool.version_info.versions.map((v) => (
          <option key={v} value={v}>
            {v}
            {v === tool.version_info.default ? ' (default)' : ''}
          </option>
        ))}
      </select>
    </>
  );
}

function AddToolForm(props: { agentId: string; items: CatalogTool[]; onClose: () => void; onAdded: () => void }) {
  const [toolName, setToolName] = useState('');
  const tool = props.items.find((t) => t.tool_name === toolName) ?? props.items[0]!;
  const template = tool.default_config_template;
  const secrets = secretsOf(template);
  const [instance, setInstance] = useState('');
  const [version, setVersion] = useState('');
  const [values, setValues] = useState<ConfigValues | undefined>(undefined);
  const [bindings, setBindings] = useState<Binding[] | undefined>(undefined);
  const form = useFormErrors();
  const shownValues = values ?? initialValues(template);
  const shownBindings = bindings ?? bindingsOf(template);
  const pick = (name: string) => (setToolName(name), setValues(undefined), setBindings(undefined), setVersion(''), form.setError(undefined));

  const submit = async (e: Event) => {
    e.preventDefault();
    const { config, problems } = toConfig(template, shownValues);
    form.setLocal(problems);
    if (Object.keys(problems).length) return;
    const refs = Object.fromEntries(shownBindings.filter((b) => b.env && b.secret).map((b) => [b.env, b.secret]));
    const body = { tool_name: tool.tool_name, ...(instance ? { instance_name: instance } : {}), ...(version ? { version } : {}), config_details: config, secret_refs: refs };
    try {
      await saveWithSecrets(props.agentId, shownBindings, () => api<Tool>(`/v1/agents/${encodeURIComponent(props.agentId)}/tools`, { method: 'POST', body }));
      props.onAdded();
      props.onClose();
    } catch (err) {
      form.setError(err as Error);
    }
  };
  const generalError = generalErrorOf(form.error);
  return (
    <form onSubmit={submit}>
      <ToolPicker items={props.items} tool={tool} version={version} onTool={pick} onVersion={setVersion} />
      <label for="add-instance">Instance name (optional)</label>
      <input id="add-instance" placeholder={tool.tool_name} value={instance} aria-describedby="add-instance-error" onInput={(e) => setInstance((e.target as HTMLInputElement).value)} />
      <p id="add-instance-error" class="field-error">{form.errorAt('instance_name') ?? ''}</p>
      <SchemaForm idPrefix="add-config" template={template} values={shownValues} errorAt={form.errorAt} onChange={setValues} />
      <SecretBindings bindings={shownBindings} {...secrets} errorAt={form.errorAt} onChange={setBindings} />
      {generalError ? <ErrorBox error={generalError} /> : null}
      <div class="actions">
        <button type="button" class="secondary" onClick={props.onClose}>
          Cancel
        </button>
        <button type="submit">Add tool</button>
      </div>
    </form>
  );
}

export function AddToolDialog(props: { agentId: string; open: boolean; onClose: () => void; onAdded: () => void }) {
  const catalog = useApi<Page<CatalogTool>>(props.open ? '/v1/catalog?limit=500' : undefined);
  const items = catalog.data?.items ?? [];
  return (
    <Dialog title="Add a tool from the catalog" open={props.open} onClose={props.onClose}>
      {catalog.error ? <ErrorBox error={catalog.error} retry={catalog.reload} /> : null}
      {!catalog.data && !catalog.error ? <Loading label="Loading the catalog…" /> : null}
      {items.length ? <AddToolForm agentId={props.agentId} items={items} onClose={props.onClose} onAdded={props.onAdded} /> : null}
      {catalog.data && !items.length ? <p>The catalog is empty: an admin adds tools on the Catalog page.</p> : null}
    </Dialog>
  );
}

export function ConfigureDialog(props: { agentId: string; tool: Tool; template: Record<string, unknown> | undefined; open: boolean; onClose: () => void; onSaved: () => void }) {
  const template = useMemo(() => (props.template ?? {}) as CatalogTool['default_config_template'], [props.template]);
  const [values, setValues] = useState<ConfigValues>(() => initialValues(template, props.tool.config_details));
  const [bindings, setBindings] = useState<Binding[]>(() => bindingsOf(template, props.tool.secret_refs));
  const form = useFormErrors();
  const submit = async (e: Event) => {
    e.preventDefault();
    const { config, problems } = toConfig(template, values);
    form.setLocal(problems);
    if (Object.keys(problems).length) return;
    const refs = Object.fromEntries(bindings.filter((b) => b.env && b.secret).map((b) => [b.env, b.secret]));
    try {
      const path = `/v1/agents/${encodeURIComponent(props.agentId)}/tools/${encodeURIComponent(props.tool.instance_name)}`;
      await saveWithSecrets(props.agentId, bindings, () => api(path, { method: 'PATCH', body: { config_details: config, secret_refs: refs } }));
      props.onSaved();
      props.onClose();
    } catch (err) {
      form.setError(err as Error);
    }
  };
  const generalError = generalErrorOf(form.error);
  return (
    <Dialog title={`Configure ${props.tool.instance_name}`} open={props.open} onClose={props.onClose}>
      <form onSubmit={submit}>
        <SchemaForm idPrefix={`cfg-${props.tool.instance_name}`} template={template} values={values} errorAt={form.errorAt} onChange={setValues} />
        <SecretBindings bindings={bindings} {...secretsOf(template)} errorAt={form.errorAt} onChange={setBindings} />
        {generalError ? <ErrorBox error={generalError} /> : null}
        <div class="actions">
          <button type="button" class="secondary" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit">Save</button>
        </div>
      </form>
    </Dialog>
  );
}
