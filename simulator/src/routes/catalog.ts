/**
 * What the account can use: regions, sizes (with prices), distribution images, and the
 * account itself (with its droplet limit).
 */
import { notFound } from '../api-error.ts';
import { findImage, IMAGES, REGIONS, SIZES } from '../catalog-data.ts';
import { paginate } from '../pagination.ts';
import { renderImage, renderRegion, renderSize } from '../render.ts';
import type { Answer, RequestContext, Router } from '../router.ts';

/** The simulated account's fixed identity. */
export const ACCOUNT_UUID = '5a4d0000-5117-4a70-9000-000000000001';

function listImages(ctx: RequestContext): Answer {
  const type = ctx.query.get('type');
  // All simulated images are public distribution images: private, tagged or application
  // images are empty lists, as for an account that has none.
  const none = ctx.query.get('private') === 'true' || ctx.query.get('tag_name') !== null || type === 'application';
  return { status: 200, body: paginate(ctx, 'images', none ? [] : IMAGES, renderImage) };
}

function getImage(ctx: RequestContext): Answer {
  const image = findImage(ctx.params.image_id ?? '');
  if (!image) throw notFound();
  return { status: 200, body: { image: renderImage(image) } };
}

function getAccount(ctx: RequestContext): Answer {
  return {
    status: 200,
    body: {
      account: {
        droplet_limit: ctx.state.dropletLimit,
        floating_ip_limit: 3,
        email: 'simulator@toolbelt.invalid',
        name: 'toolbelt simulator',
        uuid: ACCOUNT_UUID,
        email_verified: true,
        status: 'active',
        status_message: '',
        team: { uuid: ACCOUNT_UUID, name: 'toolbelt simulator' },
      },
    },
  };
}

export function catalogRoutes(router: Router): void {
  router
    .add('GET', '/v2/regions', (ctx) => ({ status: 200, body: paginate(ctx, 'regions', REGIONS, renderRegion) }))
    .add('GET', '/v2/sizes', (ctx) => ({ status: 200, body: paginate(ctx, 'sizes', SIZES, renderSize) }))
    .add('GET', '/v2/images', listImages)
    .add('GET', '/v2/images/{image_id}', getImage)
    .add('GET', '/v2/account', getAccount);
}
