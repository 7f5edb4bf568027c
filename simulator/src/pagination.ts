/**
 * DigitalOcean's list paging: `page` (from 1) and `per_page` (default 20, at most 200),
 * `links.pages` with only the links that make sense, and `meta.total`.
 */
import type { RequestContext } from './router.ts';

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 200;

function positiveInt(value: string | null, fallback: number): number {
  if (value === null || !/^\d+$/.test(value)) return fallback;
  const n = Number(value);
  return n >= 1 ? n : fallback;
}

/** The list body `{ [key]: items of this page, links, meta }`. */
export function paginate<T>(
  ctx: RequestContext,
  key: string,
  items: readonly T[],
  render: (item: T) => unknown,
): Record<string, unknown> {
  const perPage = Math.min(MAX_PER_PAGE, positiveInt(ctx.query.get('per_page'), DEFAULT_PER_PAGE));
  const page = positiveInt(ctx.query.get('page'), 1);
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const link = (n: number) => {
    const url = new URL(ctx.url);
    url.searchParams.set('page', String(n));
    url.searchParams.set('per_page', String(perPage));
    return url.toString();
  };
  const pages: Record<string, string> = {};
  if (page > 1) {
    pages.first = link(1);
    pages.prev = link(Math.min(page - 1, lastPage));
  }
  if (page < lastPage) {
    pages.next = link(page + 1);
    pages.last = link(lastPage);
  }
  return {
    [key]: slice.map(render),
    links: Object.keys(pages).length > 0 ? { pages } : {},
    meta: { total: items.length },
  };
}
