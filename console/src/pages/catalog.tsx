/**
 * The catalog: every tool that can be installed, its details (versions, packaging,
 * transport, ports, the config template), and — for admins — add and edit, with the
 * template edited as JSON (checked as JSON here; as a JSON Schema by the API).
 */
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.ts';
import type { Abilities } from '../app.tsx';
import { Dialog, Empty, ErrorBox, Link, Loading, useApi } from '../components.tsx';
import { navigate } from '../router.ts';
import type { CatalogTool, Page } from '../types.ts';

const NEW_TOOL = {
  tool_name: '',
  description: '',
  version_info: { versions: ['1.0.0'], default: '1.0.0' },
  packaging_type: 'npm_package',
  package_identifier: '',
  transport: 'mcp-stdio',
  ports: [],
  default_config_template: { type: 'object', properties: {} },
};

function editable(tool: CatalogTool | undefined): string {
  if (!tool) return JSON.stringify(NEW_TOOL, null, 2);
  const { tool_name, description, version_info, packaging_type, package_identifier, transport, ports, default_config_template, health_check } = tool;
  return JSON.stringify({ tool_name, description, version_info, packaging_type, package_identifier, transport, ports, default_config_template, health_check }, null, 2);
}

function EditDialog(props: { tool: CatalogTool | undefined; open: boolean; onClose: () => void; onSaved: (t: CatalogTool) => void }) {
  const [text, setText] = useState(() => editable(props.tool));
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return setError(new Error(`not valid JSON: ${(err as Error).message}`));
    }
    try {
      const saved = props.tool
        ? await api<CatalogTool>(`/v1/catalog/${encodeURIComponent(props.tool.id)}`, { method: 'PATCH', body })
        : await api<CatalogTool>('/v1/catalog', { method: 'POST', body });
      props.onSaved(saved);
      props.onClose();
    } catch (err) {
      setError(err);
    }
  };
  const details = error instanceof ApiError ? error.details : [];
  return (
    <Dialog title={props.tool ? `Edit ${props.tool.tool_name}` : 'Add a catalog tool'} open={props.open} onClose={props.onClose}>
      <form onSubmit={submit}>
        <label for="catalog-json">Catalog entry (JSON; default_config_template is a JSON Schema)</label>
        <textarea id="catalog-json" class="code" rows={18} spellcheck={false} value={text} aria-invalid={error ? 'true' : undefined} aria-describedby="catalog-json-errors" onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        <div id="catalog-json-errors">
          {details.length ? (
            <ul class="field-error" role="alert">
              {details.map((d) => (
                <li key={d.path}>
                  <code>{d.path}</code>: {d.message}
                </li>
              ))}
            </ul>
          ) : error ? (
            <ErrorBox error={error} />
          ) : null}
        </div>
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

function secretsText(t: CatalogTool): string {
  const required = t.default_config_template['x-toolbelt-secrets'] ?? [];
  const optional = (t.default_config_template['x-toolbelt-optional-secrets'] as string[] | undefined) ?? [];
  return [...required, ...optional.map((s) => `${s} (optional)`)].join(', ') || '—';
}

function Details(props: { tool: CatalogTool; can: Abilities; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const t = props.tool;
  return (
    <article class="card" aria-labelledby="catalog-detail-title">
      <div class="page-head">
        <h2 id="catalog-detail-title">{t.tool_name}</h2>
        {props.can.admin ? (
          <button type="button" class="secondary" onClick={() => setEditing(true)}>
            Edit
          </button>
        ) : null}
      </div>
      <p>{t.description}</p>
      <dl class="facts">
        <dt>Versions</dt>
        <dd>
          {t.version_info.versions.join(', ')} (default {t.version_info.default})
        </dd>
        <dt>Packaging</dt>
        <dd>
          {t.packaging_type}: <code>{t.package_identifier}</code>
        </dd>
        <dt>Transport</dt>
        <dd>{t.transport}</dd>
        <dt>Ports</dt>
        <dd>{t.ports.join(', ') || '—'}</dd>
        <dt>Secrets it needs</dt>
        <dd>{secretsText(t)}</dd>
      </dl>
      <h3>Config template</h3>
      <pre tabIndex={0}>{JSON.stringify(t.default_config_template, null, 2)}</pre>
      {editing ? <EditDialog tool={t} open={editing} onClose={() => setEditing(false)} onSaved={props.onSaved} /> : null}
    </article>
  );
}

function CatalogList(props: { items: CatalogTool[]; selected: CatalogTool | undefined }) {
  return (
    <ul class="catalog-list" aria-label="Catalog tools">
      {props.items.map((t) => (
        <li key={t.id}>
          <Link href={`/catalog/${encodeURIComponent(t.tool_name)}`} aria-current={t === props.selected ? 'page' : undefined}>
            <strong>{t.tool_name}</strong>
            <span class="muted">
              {t.packaging_type} · {t.transport} · {t.version_info.default}
            </span>
          </Link>
        </li>
      ))}
    </ul>
  );
}

function CatalogState(props: { list: ReturnType<typeof useApi<Page<CatalogTool>>>; admin: boolean }) {
  const { list } = props;
  if (list.error) return <ErrorBox error={list.error} retry={list.reload} />;
  if (!list.data) return <Loading label="Loading the catalog…" />;
  if (list.data.items.length === 0) return <Empty>The catalog is empty.{props.admin ? ' Add a tool.' : ' An admin adds tools here.'}</Empty>;
  return null;
}

function pick(items: CatalogTool[], selected: string | undefined): CatalogTool | undefined {
  if (!selected) return items[0];
  return items.find((t) => t.tool_name === selected || t.id === selected);
}

export function CatalogPage(props: { selected: string | undefined; can: Abilities }) {
  const list = useApi<Page<CatalogTool>>('/v1/catalog?limit=500');
  const [adding, setAdding] = useState(false);
  const items = list.data?.items ?? [];
  const selected = pick(items, props.selected);
  return (
    <section aria-labelledby="catalog-title">
      <div class="page-head">
        <h1 id="catalog-title">Catalog</h1>
        {props.can.admin ? (
          <button type="button" onClick={() => setAdding(true)}>
            Add catalog tool
          </button>
        ) : null}
      </div>
      <CatalogState list={list} admin={props.can.admin} />
      {items.length > 0 ? (
        <div class="split">
          <CatalogList items={items} selected={selected} />
          {selected ? <Details key={selected.id} tool={selected} can={props.can} onSaved={list.reload} /> : <Empty>No catalog tool “{props.selected}”.</Empty>}
        </div>
      ) : null}
      {adding ? <EditDialog tool={undefined} open={adding} onClose={() => setAdding(false)} onSaved={(t) => (list.reload(), navigate(`/catalog/${encodeURIComponent(t.tool_name)}`))} /> : null}
    </section>
  );
}
