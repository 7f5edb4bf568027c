#!/usr/bin/env node
// The container's HEALTHCHECK (copied to dist/bin by `npm run build`): exits 0 when the
// controller on this host answers GET /readyz with 200 — migrated, Postgres reachable, not
// draining. Over https when built-in TLS is on; the certificate is not checked here (the
// name is the public one, the check dials 127.0.0.1), only that the process answers ready.
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';

const tls = Boolean(process.env.TOOLBELT_TLS_CERT_FILE);
const port = Number(process.env.PORT || 8080);
const send = tls ? request : plainRequest;
const req = send({ host: '127.0.0.1', port, path: '/readyz', timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
