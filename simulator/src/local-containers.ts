/**
 * Removes the containers of one local droplet from the shared engine, through the Docker
 * Engine API over its unix socket (the agents label them `toolbelt.scope=SCOPE`).
 */
import { request } from 'node:http';

function call(socketPath: string, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

export async function removeScopedContainers(socketPath: string, scope: string): Promise<number> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`toolbelt.scope=${scope}`] }));
  const listed = await call(socketPath, 'GET', `/containers/json?all=1&filters=${filters}`);
  if (listed.status !== 200) return 0;
  const containers = JSON.parse(listed.body) as { Id: string }[];
  for (const c of containers) await call(socketPath, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
  return containers.length;
}
