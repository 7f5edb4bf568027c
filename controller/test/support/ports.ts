/** Ports for tests that must name one before something listens on it. */
import { createServer } from 'node:net';

/** A port nothing listens on right now (for a tool's port on a local droplet, a controller restarted on the same port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
