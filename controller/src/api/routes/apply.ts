import type { ApiDeps } from '../deps.ts';
import type { AnyRoute } from '../route.ts';

export const applyRoutes = (_deps: ApiDeps): AnyRoute[] => [];
