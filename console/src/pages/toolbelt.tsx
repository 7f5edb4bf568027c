/**
 * The toolbelt on the agent page: each tool with its status, version, Ready, endpoints and
 * last error, its capabilities (each MCP tool with its description and input schema), and —
 * for operators — start/stop, configure, remove, add from the catalog, and "try it" on each
 * MCP tool of a running tool (try-tool.tsx).
 */
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Abilities } from '../app.tsx';
import { Badge, Conditions, Empty, ErrorBox, Loading, readyOf, useApi } from '../components.tsx';
import type { CatalogTool, Page, Tool } from '../types.ts';
import { AddToolDialog, ConfigureDialog } from './tool-forms.tsx';
import { TryToolDialog } from './try-tool.tsx';

const serving = (tool: Tool) => tool.status === 'running' || tool.status === 'active';

function Capabilities(props: { agentId: string; tool: Tool; can: Abilities }) {
  const [trying, setTrying] = useState<string | undefined>(undefined);
  const tools = props.tool.capabilities?.tools ?? [];
  if (!props.tool.capabilities) return <p class="muted">Capabilities appear once the tool answers its health check.</p>;
  if (tools.length === 0) return <p class="muted">This tool offers no MCP tools.</p>;
  const canTry = props.can.write && serving(props.tool) && props.tool.deletion_requested_at === null;
  return (
    <>
      <ul class="capabilities" aria-label={`MCP tools of ${props.tool.instance_name}`}>
        {tools.map((t) => (
          <li key={t.name}>
            <code>{t.name}</code> {t.description ? <span>— {t.description}</span> : null}
            {canTry ? (
              <button type="button" class="secondary small" aria-label={`Try it: ${t.name}`} onClick={() => setTrying(t.name)}>
                Try it
              </button>
            ) : null}
            {t.inputSchema ? (
              <details>
                <summary>Input schema</summary>
                <pre tabIndex={0}>{JSON.stringify(t.inputSchema, null, 2)}</pre>
              </details>
            ) : null}
          </li>
        ))}
      </ul>
      {trying ? <TryToolDialog agentId={props.agentId} instanceName={props.tool.instance_name} mcpTool={trying} open onClose={() => setTrying(undefined)} /> : null}
    </>
  );
}

const endpoint = (e: Tool['endpoints'][number]) => `${e.transport} ${e.host}:${e.port}${e.path}`;

function ToolFacts(props: { tool: Tool }) {
  const { tool } = props;
  return (
    <dl class="facts">
      <dt>Endpoints</dt>
      <dd>{tool.endpoints.length ? tool.endpoints.map((e) => <code key={endpoint(e)}>{endpoint(e)}</code>) : '—'}</dd>
      <dt>Last error</dt>
      <dd class={tool.last_error ? 'error-text' : undefined}>{tool.last_error ?? '—'}</dd>
      <dt>Config</dt>
      <dd>
        <code>{JSON.stringify(tool.config_details)}</code>
      </dd>
      <dt>Secrets</dt>
      <dd>{Object.entries(tool.secret_refs).map(([env, name]) => `${env} ← ${name}`).join(', ') || '—'}</dd>
    </dl>
  );
}

function ToolActions(props: { tool: Tool; act: (method: 'PATCH' | 'DELETE', body?: unknown) => void; onConfigure: () => void }) {
  const { tool, act } = props;
  const running = tool.desired_state === 'running';
  return (
    <div class="actions">
      <button type="button" class="secondary" onClick={() => act('PATCH', { desired_state: running ? 'stopped' : 'running' })}>
        {running ? 'Stop' : 'Start'}
      </button>
      <button type="button" class="secondary" onClick={props.onConfigure}>
        Configure
      </button>
      <button type="button" class="danger" onClick={() => act('DELETE')} aria-label={`Remove ${tool.instance_name}`}>
        Remove
      </button>
    </div>
  );
}

function ToolCard(props: { agentId: string; tool: Tool; can: Abilities; template: Record<string, unknown> | undefined; onChanged: () => void }) {
  const { tool } = props;
  const [configuring, setConfiguring] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const path = `/v1/agents/${encodeURIComponent(props.agentId)}/tools/${encodeURIComponent(tool.instance_name)}`;
  const act = async (method: 'PATCH' | 'DELETE', body?: unknown) => {
    setError(undefined);
    try {
      await api(path, { method, body });
      props.onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const removing = tool.deletion_requested_at !== null;
  return (
    <article class="card tool" aria-labelledby={`tool-${tool.id}`}>
      <header class="tool-head">
        <h3 id={`tool-${tool.id}`}>
          {tool.instance_name} <span class="muted">({tool.tool_name} {tool.version})</span>
        </h3>
        <div class="badges">
          <Badge value={removing ? 'deleting' : tool.status} label={removing ? 'removing' : undefined} />
          <span>
            Ready <Badge value={readyOf(tool.conditions)} />
          </span>
          <span class="muted">desired {tool.desired_state}</span>
        </div>
      </header>
      <ToolFacts tool={tool} />
      <h4>Capabilities</h4>
      <Capabilities agentId={props.agentId} tool={tool} can={props.can} />
      <details>
        <summary>Conditions</summary>
        <Conditions conditions={tool.conditions} />
      </details>
      {props.can.write && !removing ? <ToolActions tool={tool} act={act} onConfigure={() => setConfiguring(true)} /> : null}
      {error ? <ErrorBox error={error} /> : null}
      {configuring ? (
        <ConfigureDialog agentId={props.agentId} tool={tool} template={props.template} open={configuring} onClose={() => setConfiguring(false)} onSaved={props.onChanged} />
      ) : null}
    </article>
  );
}

function ToolsState(props: { tools: ReturnType<typeof useApi<Page<Tool>>>; write: boolean }) {
  const { tools } = props;
  if (tools.error) return <ErrorBox error={tools.error} retry={tools.reload} />;
  if (!tools.data) return <Loading label="Loading tools…" />;
  if (tools.data.items.length === 0) return <Empty>No tools yet.{props.write ? ' Add one from the catalog.' : ''}</Empty>;
  return null;
}

export function Toolbelt(props: { agentId: string; can: Abilities; tools: ReturnType<typeof useApi<Page<Tool>>> }) {
  const catalog = useApi<Page<CatalogTool>>('/v1/catalog?limit=500');
  const [adding, setAdding] = useState(false);
  const templates = new Map((catalog.data?.items ?? []).map((t) => [t.id, t.default_config_template]));
  const byName = new Map((catalog.data?.items ?? []).map((t) => [t.tool_name, t.default_config_template]));
  const { tools } = props;
  return (
    <section aria-labelledby="toolbelt-title">
      <div class="page-head">
        <h2 id="toolbelt-title">Toolbelt</h2>
        {props.can.write ? (
          <button type="button" onClick={() => setAdding(true)}>
            Add tool
          </button>
        ) : null}
      </div>
      <ToolsState tools={tools} write={props.can.write} />
      {tools.data?.items.map((t) => (
        <ToolCard
          key={t.id}
          agentId={props.agentId}
          tool={t}
          can={props.can}
          template={(templates.get(t.tool_catalog_id) ?? byName.get(t.tool_name)) as Record<string, unknown> | undefined}
          onChanged={tools.reload}
        />
      ))}
      {adding ? <AddToolDialog agentId={props.agentId} open={adding} onClose={() => setAdding(false)} onAdded={tools.reload} /> : null}
    </section>
  );
}
