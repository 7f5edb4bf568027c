/**
 * What the console needs beside the resources: DigitalOcean's regions and sizes (cached, with
 * prices) and an environment's host metrics history (one point a minute, the last 24 hours).
 */
import { getAgentWithEnvironment, HOST_METRICS_RETENTION_MS, hostMetricsSchema, listHostMetricPoints } from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { notFoundError } from '../errors.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { agentParams, AUTH_ERRORS, errors } from './common.ts';
import { requireAgent } from '../ops/agents.ts';

export const priceSchema = z.object({ monthly: z.number(), hourly: z.number(), currency: z.literal('USD') });

const optionsSchema = z.object({
  regions: z.array(z.object({ slug: z.string(), name: z.string(), available: z.boolean(), sizes: z.array(z.string()) })),
  sizes: z.array(
    z.object({
      slug: z.string(),
      description: z.string(),
      vcpus: z.number(),
      memory_mb: z.number(),
      disk_gb: z.number(),
      price_monthly: z.number(),
      price_hourly: z.number(),
      available: z.boolean(),
      regions: z.array(z.string()),
    }),
  ),
  fetched_at: z.string().nullable(),
  available: z.boolean().describe('false when this controller runs no DigitalOcean provider (its loop is off): the lists are empty'),
});

const optionsRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/digitalocean/options',
    summary: "DigitalOcean's regions and droplet sizes with prices (cached for 10 minutes)",
    tag: 'digitalocean',
    access: 'viewer',
    responses: { 200: { description: 'regions and sizes', schema: optionsSchema }, ...errors(...AUTH_ERRORS) },
    async handle() {
      const offer = await deps.digitalocean.offer();
      if (!offer) return { status: 200, body: { regions: [], sizes: [], fetched_at: null, available: false } };
      return {
        status: 200,
        body: {
          regions: offer.regions.map((r) => ({ slug: r.slug, name: r.name, available: r.available, sizes: r.sizes })),
          sizes: offer.sizes.map((s) => ({
            slug: s.slug,
            description: s.description,
            vcpus: s.vcpus,
            memory_mb: s.memoryMb,
            disk_gb: s.diskGb,
            price_monthly: s.priceMonthly,
            price_hourly: s.priceHourly,
            available: s.available,
            regions: s.regions,
          })),
          fetched_at: offer.fetchedAt.toISOString(),
          available: true,
        },
      };
    },
  });

const metricsSchema = z.object({
  points: z.array(z.object({ at: z.string(), metrics: hostMetricsSchema })),
  interval_seconds: z.literal(60),
});

const metricsRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/agents/:id/environment/metrics',
    summary: "Host metrics history of an agent's environment: one point a minute, the last 24 hours, oldest first",
    tag: 'agents',
    access: 'viewer',
    params: agentParams,
    responses: { 200: { description: 'the points', schema: metricsSchema }, ...errors(...AUTH_ERRORS, 404) },
    async handle({ params }) {
      const agent = await requireAgent(deps.db, params.id);
      const full = await getAgentWithEnvironment(deps.db, agent.id);
      if (!full?.environment) throw notFoundError(`the environment of agent "${agent.name}"`);
      const since = new Date(deps.clock.now() - HOST_METRICS_RETENTION_MS);
      const points = await listHostMetricPoints(deps.db, full.environment.id, since);
      return { status: 200, body: { points: points.map((p) => ({ at: p.minute.toISOString(), metrics: p.metrics })), interval_seconds: 60 } };
    },
  });

/** The console's data routes. */
export const consoleDataRoutes = (deps: ApiDeps): AnyRoute[] => [optionsRoute(deps), metricsRoute(deps)];
