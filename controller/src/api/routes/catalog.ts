/**
 * The tool catalog: any authenticated caller may read it; only admins change it.
 */
import { catalogToolCreateSchema, catalogToolUpdateSchema, listCatalogTools } from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { createCatalogWrite, deleteCatalogWrite, requireCatalogTool, updateCatalogWrite } from '../ops/catalog.ts';
import { write } from '../ops/context.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { catalogToolView, catalogToolViewSchema, pageOf } from '../views.ts';
import { AUTH_ERRORS, errors, nextCursor, pageQuery } from './common.ts';

const TAG = 'catalog';
const params = z.strictObject({ id: z.string().min(1).describe('catalog tool id or tool_name') });

const listCatalog = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/catalog',
    summary: 'List the tools that can be installed (by name)',
    tag: TAG,
    access: 'viewer',
    query: pageQuery,
    responses: { 200: { description: 'a page of catalog tools', schema: pageOf(catalogToolViewSchema) }, ...errors(400, ...AUTH_ERRORS) },
    async handle({ query }) {
      const rows = await listCatalogTools(deps.db, query);
      return { status: 200, body: { items: rows.map(catalogToolView), next: nextCursor(rows, query.limit, (r) => r.tool_name) } };
    },
  });

const getCatalog = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/catalog/:id',
    summary: 'Get a catalog tool by id or name',
    tag: TAG,
    access: 'viewer',
    params,
    responses: { 200: { description: 'the catalog tool; ETag is its generation', schema: catalogToolViewSchema }, ...errors(...AUTH_ERRORS, 404) },
    async handle({ params: p }) {
      const tool = await requireCatalogTool(deps.db, p.id);
      return { status: 200, body: catalogToolView(tool), etag: String(tool.generation) };
    },
  });

const createCatalog = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/catalog',
    summary: 'Add a tool to the catalog (admin)',
    tag: TAG,
    access: 'admin',
    writes: ['CatalogTool'],
    body: catalogToolCreateSchema,
    responses: { 201: { description: 'created', schema: catalogToolViewSchema }, ...errors(400, ...AUTH_ERRORS, 409) },
    async handle({ body }) {
      const tool = await write(deps, (ctx) => createCatalogWrite(ctx, body));
      return { status: 201, body: catalogToolView(tool), etag: String(tool.generation) };
    },
  });

const updateCatalog = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'PATCH',
    path: '/v1/catalog/:id',
    summary: 'Change a catalog tool (admin)',
    tag: TAG,
    access: 'admin',
    writes: ['CatalogTool'],
    params,
    body: catalogToolUpdateSchema,
    ifMatch: true,
    responses: { 200: { description: 'updated', schema: catalogToolViewSchema }, ...errors(400, ...AUTH_ERRORS, 404, 409) },
    async handle({ params: p, body, ifMatch }) {
      const tool = await write(deps, (ctx) => updateCatalogWrite(ctx, p.id, body, ifMatch));
      return { status: 200, body: catalogToolView(tool), etag: String(tool.generation) };
    },
  });

const deleteCatalog = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'DELETE',
    path: '/v1/catalog/:id',
    summary: 'Remove a tool from the catalog (admin; refused while agents use it)',
    tag: TAG,
    access: 'admin',
    writes: ['CatalogTool'],
    params,
    ifMatch: true,
    responses: { 204: { description: 'deleted' }, ...errors(400, ...AUTH_ERRORS, 404, 409) },
    async handle({ params: p, ifMatch }) {
      await write(deps, (ctx) => deleteCatalogWrite(ctx, p.id, ifMatch));
      return { status: 204 };
    },
  });

/** The catalog routes. */
export const catalogRoutes = (deps: ApiDeps): AnyRoute[] =>
  [listCatalog, getCatalog, createCatalog, updateCatalog, deleteCatalog].map((route) => route(deps));
