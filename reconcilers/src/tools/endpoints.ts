/**
 * Where the agent platform reaches a tool (pure). The droplet agent reports the address a
 * tool is bound to as it sees it from inside the droplet — `127.0.0.1` for a loopback bind,
 * and for a wildcard bind too (the agent's own health check dials it there). Neither means
 * anything to a caller elsewhere: the controller reports such endpoints at the droplet's
 * public IPv4 (the environment's `ip_address`, from the DigitalOcean sweep). A specific
 * address the tool is bound to (a private or public interface) is reported as it is.
 *
 * Local droplets of the simulator run on the controller's machine and have 127.0.0.1 as
 * their public IPv4, so the same rule gives `127.0.0.1` there — which is where they answer.
 *
 * WARNING: a tool bound to the droplet's loopback is not reachable at the public address:
 * whoever calls it needs the tool to listen beyond loopback and the fleet firewall to let
 * them in (docs/tools.md, "Endpoints").
 */
import type { Endpoint } from '@toolbelt/schema/types';

/** Whether `host` is a wildcard or loopback address (what a caller off the droplet cannot dial). */
export function isUnroutableHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === '' || bare === '0.0.0.0' || bare === '::' || bare === '::1' || bare === 'localhost' || /^127\./.test(bare) || /^::ffff:127\./.test(bare);
}

/**
 * The endpoints as the controller reports them: wildcard and loopback hosts replaced by the
 * droplet's public IPv4; unchanged while that address is not known yet.
 */
export function reachableEndpoints(reported: readonly Endpoint[], dropletAddress: string | null): Endpoint[] {
  if (!dropletAddress) return [...reported];
  return reported.map((endpoint) => (isUnroutableHost(endpoint.host) ? { ...endpoint, host: dropletAddress } : endpoint));
}
