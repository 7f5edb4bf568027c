/**
 * An agent's tool environment: what it is (status, Ready, region, size, price, address,
 * agent), the switch — whose confirmation states the size's price and this fleet's typical
 * provisioning time — and the region and size pickers, from DigitalOcean's own lists.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Abilities } from '../app.tsx';
import { Ago, Badge, Dialog, duration, ErrorBox, Loading, money, readyOf, useApi } from '../components.tsx';
import type { DoOptions, Environment } from '../types.ts';

type Spec = { region: string; size: string };

function Pickers(props: { options: DoOptions | undefined; spec: Spec; onChange: (s: Spec) => void; disabled: boolean }) {
  const { options, spec } = props;
  const regions = (options?.regions ?? []).filter((r) => r.available);
  const sizes = (options?.sizes ?? []).filter((s) => s.available && (s.regions.length === 0 || s.regions.includes(spec.region)));
  return (
    <div class="pickers">
      <div>
        <label for="env-region">Region</label>
        <select id="env-region" value={spec.region} disabled={props.disabled} onChange={(e) => props.onChange({ ...spec, region: (e.target as HTMLSelectElement).value })}>
          {regions.length === 0 ? <option value={spec.region}>{spec.region}</option> : null}
          {regions.map((r) => (
            <option key={r.slug} value={r.slug}>
              {r.name} ({r.slug})
            </option>
          ))}
        </select>
      </div>
      <div>
        <label for="env-size">Size</label>
        <select id="env-size" value={spec.size} disabled={props.disabled} onChange={(e) => props.onChange({ ...spec, size: (e.target as HTMLSelectElement).value })}>
          {sizes.length === 0 ? <option value={spec.size}>{spec.size}</option> : null}
          {sizes.map((s) => (
            <option key={s.slug} value={s.slug}>
              {s.slug} — {s.vcpus} vCPU, {s.memory_mb >= 1024 ? `${s.memory_mb / 1024} GB` : `${s.memory_mb} MB`}, {money(s.price_monthly, 0)}/month
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}

function priceText(options: DoOptions | undefined, size: string): string {
  const s = options?.sizes.find((x) => x.slug === size);
  return s ? `${money(s.price_monthly)} a month (${money(s.price_hourly, 4)} an hour)` : 'unknown (DigitalOcean does not list this size)';
}

function provisioningText(env: Environment | undefined): string {
  const t = env?.typical_provisioning;
  if (!t || t.median_seconds === null) return 'not measured yet (no environment of this fleet has become Ready)';
  return `about ${duration(t.median_seconds)} (median of the last ${t.samples} environment${t.samples === 1 ? '' : 's'} of this fleet)`;
}

function Facts(props: { env: Environment }) {
  const { env } = props;
  return (
    <dl class="facts">
      <dt>Switch</dt>
      <dd>{env.active ? <Badge value="active" label="on" /> : <Badge value="off" label="off" />}</dd>
      <dt>Status</dt>
      <dd>
        <Badge value={env.status} />
      </dd>
      <dt>Ready</dt>
      <dd>
        <Badge value={readyOf(env.conditions)} />
      </dd>
      <dt>Region / size</dt>
      <dd>
        {env.region} / {env.size}
      </dd>
      <dt>Price</dt>
      <dd>{env.price ? `${money(env.price.monthly)} a month` : '—'}</dd>
      <dt>Address</dt>
      <dd>{env.ip_address ?? '—'}</dd>
      <dt>Droplet agent</dt>
      <dd>
        {env.agent_version ?? '—'}, heard <Ago at={env.last_heartbeat_at} />
      </dd>
    </dl>
  );
}

function ConfirmSwitch(props: { turnOn: boolean; spec: Spec; options: DoOptions | undefined; env: Environment | undefined; open: boolean; busy: boolean; error: unknown; onClose: () => void; onConfirm: () => void }) {
  const { turnOn, spec } = props;
  return (
    <Dialog title={turnOn ? 'Switch the tool environment on?' : 'Switch the tool environment off?'} open={props.open} onClose={props.onClose}>
      {turnOn ? (
        <div class="confirm">
          <p>
            This creates a DigitalOcean droplet <strong>{spec.size}</strong> in <strong>{spec.region}</strong>.
          </p>
          <p class="price">
            Price: <strong>{priceText(props.options, spec.size)}</strong>, billed by DigitalOcean while the environment is on.
          </p>
          <p>Typical provisioning time: {provisioningText(props.env)}.</p>
        </div>
      ) : (
        <p>The droplet is deleted; its tools stop. The toolbelt is kept and comes back when the environment is switched on again.</p>
      )}
      {props.error ? <ErrorBox error={props.error} /> : null}
      <div class="actions">
        <button type="button" class="secondary" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" class={turnOn ? '' : 'danger'} disabled={props.busy} onClick={props.onConfirm}>
          {turnOn ? 'Switch on' : 'Switch off'}
        </button>
      </div>
    </Dialog>
  );
}

function SwitchButtons(props: { turnOn: boolean; changed: boolean; onAsk: () => void; onSave: () => void }) {
  if (props.turnOn) {
    return (
      <button type="button" onClick={props.onAsk}>
        Switch environment on…
      </button>
    );
  }
  return (
    <>
      {props.changed ? (
        <button type="button" class="secondary" onClick={props.onSave}>
          Save region and size
        </button>
      ) : null}
      <button type="button" class="danger" onClick={props.onAsk}>
        Switch environment off…
      </button>
    </>
  );
}

/** PUTs the environment spec; tracks busy and error. */
function useEnvironmentWrite(agentId: string, after: () => void) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const put = async (body: Record<string, unknown>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await api(`/v1/agents/${encodeURIComponent(agentId)}/environment`, { method: 'PUT', body });
      after();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { put, error, busy };
}

function EnvironmentState(props: { env: ReturnType<typeof useApi<Environment>>; missing: boolean }) {
  if (props.missing) return <p class="muted">This agent has no tool environment yet. Switching it on creates a droplet for its tools.</p>;
  if (props.env.error) return <ErrorBox error={props.env.error} retry={props.env.reload} />;
  return props.env.data ? <Facts env={props.env.data} /> : <Loading label="Loading the environment…" />;
}

export function EnvironmentPanel(props: { agentId: string; active: boolean; exists: boolean; can: Abilities; onChanged: () => void; env: ReturnType<typeof useApi<Environment>> }) {
  const options = useApi<DoOptions>('/v1/digitalocean/options');
  const env = props.env.data;
  const [spec, setSpec] = useState<Spec>({ region: 'nyc3', size: 's-1vcpu-1gb' });
  const [confirm, setConfirm] = useState(false);
  const write = useEnvironmentWrite(props.agentId, () => (props.env.reload(), props.onChanged()));
  useEffect(() => {
    if (env) setSpec({ region: env.region, size: env.size });
  }, [env?.region, env?.size]);
  const missing = !props.exists;
  const turnOn = !props.active;
  const confirmed = async () => {
    if (await write.put(turnOn ? { active: true, ...spec } : { active: false })) setConfirm(false);
  };
  return (
    <section aria-labelledby="env-title" class="card">
      <h2 id="env-title">Tool environment</h2>
      <EnvironmentState env={props.env} missing={missing} />
      {props.can.write ? (
        <>
          <Pickers options={options.data} spec={spec} onChange={setSpec} disabled={write.busy} />
          <div class="actions">
            <SwitchButtons turnOn={turnOn} changed={!!env && (env.region !== spec.region || env.size !== spec.size)} onAsk={() => setConfirm(true)} onSave={() => void write.put({ active: true, ...spec })} />
          </div>
        </>
      ) : null}
      {write.error && !confirm ? <ErrorBox error={write.error} /> : null}
      <ConfirmSwitch turnOn={turnOn} spec={spec} options={options.data} env={env} open={confirm} busy={write.busy} error={write.error} onClose={() => setConfirm(false)} onConfirm={confirmed} />
    </section>
  );
}
