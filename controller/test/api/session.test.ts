/**
 * Console sessions over the real HTTP server: an API token is traded for an HttpOnly,
 * SameSite=Strict cookie; the cookie carries the token's role; writes need the CSRF token;
 * sign-out and token revocation end the session on the server.
 */
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.ts';

interface Signed {
  cookie: string;
  csrf: string;
  setCookie: string;
}

describeEachDatabase('API: console sessions', (t) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(t);
  });
  afterAll(() => api.stop());

  async function signIn(token: string): Promise<Signed> {
    const answer = await api.call('POST', '/v1/session', { token });
    expect(answer.status).toBe(201);
    const setCookie = answer.headers.get('set-cookie') ?? '';
    return { cookie: setCookie.split(';')[0]!, csrf: answer.body.csrf_token, setCookie };
  }
  const withCookie = (s: Signed, extra: Record<string, string> = {}) => ({ token: null, headers: { cookie: s.cookie, ...extra } });

  it('sets an HttpOnly, SameSite=Strict, expiring cookie that is not the token, and stores only its hash', async () => {
    const viewer = await api.token('viewer', 'session-viewer');
    const s = await signIn(viewer);
    expect(s.setCookie).toMatch(/^toolbelt_session=[A-Za-z0-9_-]{40,};/);
    expect(s.setCookie).toMatch(/; HttpOnly/);
    expect(s.setCookie).toMatch(/; SameSite=Strict/);
    expect(s.setCookie).toMatch(/; Max-Age=\d+/);
    expect(s.setCookie).not.toMatch(/Secure/); // plain HTTP on loopback
    expect(s.cookie).not.toContain(viewer);
    const secret = s.cookie.split('=')[1]!;
    const rows = await t.db.execute(sql`select session_hash from console_sessions`);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const me = await api.call('GET', '/v1/session', withCookie(s));
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ signed_in: true, name: 'session-viewer', role: 'viewer', csrf_token: s.csrf });
    expect((await api.call('GET', '/v1/session', { token: null })).body).toEqual({ signed_in: false });
  });

  it('marks the cookie Secure when the request came over TLS (a proxy saying so)', async () => {
    const answer = await api.call('POST', '/v1/session', { headers: { 'x-forwarded-proto': 'https' } });
    expect(answer.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('refuses an unknown token without a cookie', async () => {
    const answer = await api.call('POST', '/v1/session', { token: 'tb_not-a-token' });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it("gives the session its token's role: a viewer's session reads but may not write, even with the CSRF token", async () => {
    const s = await signIn(await api.token('viewer'));
    expect((await api.call('GET', '/v1/agents', withCookie(s))).status).toBe(200);
    const write = await api.call('POST', '/v1/agents', { ...withCookie(s, { 'x-csrf-token': s.csrf }), body: { name: 'by-viewer' } });
    expect(write.status).toBe(403);
    expect((await api.call('GET', '/v1/agents/by-viewer')).status).toBe(404);
  });

  it('refuses a write made with the cookie but without the CSRF token, and accepts it with the token', async () => {
    const s = await signIn(await api.token('operator'));
    const forged = await api.call('POST', '/v1/agents', { ...withCookie(s), body: { name: 'csrf-target' } });
    expect(forged.status).toBe(403);
    expect(forged.body.error.message).toMatch(/CSRF/);
    const wrong = await api.call('POST', '/v1/agents', { ...withCookie(s, { 'x-csrf-token': 'x'.repeat(32) }), body: { name: 'csrf-target' } });
    expect(wrong.status).toBe(403);
    expect((await api.call('GET', '/v1/agents/csrf-target')).status).toBe(404);
    const ok = await api.call('POST', '/v1/agents', { ...withCookie(s, { 'x-csrf-token': s.csrf }), body: { name: 'csrf-target' } });
    expect(ok.status).toBe(201);
  });

  it('ends the session on the server at sign-out: the old cookie no longer works', async () => {
    const s = await signIn(await api.token('operator'));
    const out = await api.call('DELETE', '/v1/session', withCookie(s, { 'x-csrf-token': s.csrf }));
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^toolbelt_session=; .*Max-Age=0/);
    const after = await api.call('GET', '/v1/agents', withCookie(s));
    expect(after.status).toBe(401);
    expect(after.body.error.message).toMatch(/session has ended/);
    expect((await api.call('GET', '/v1/session', withCookie(s))).body).toEqual({ signed_in: false });
  });

  it('ends every session of a token when the token is revoked', async () => {
    const created = await api.call('POST', '/v1/tokens', { body: { name: 'short-lived', role: 'operator' } });
    const s = await signIn(created.body.token);
    expect((await api.call('GET', '/v1/whoami', withCookie(s))).status).toBe(200);
    expect((await api.call('DELETE', `/v1/tokens/${created.body.id}`)).status).toBe(200);
    expect((await api.call('GET', '/v1/whoami', withCookie(s))).status).toBe(401);
  });

  it('ends a session when it expires', async () => {
    const s = await signIn(await api.token('viewer'));
    await t.db.execute(sql`update console_sessions set expires_at = now() - interval '1 second'`);
    expect((await api.call('GET', '/v1/whoami', withCookie(s))).status).toBe(401);
  });
});
