/**
 * DigitalOcean's error answers: a status and the body `{ id, message, request_id }`.
 * Handlers throw an ApiError; the server turns it into the answer.
 */

export class ApiError extends Error {
  readonly status: number;
  readonly id: string;

  constructor(status: number, id: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.id = id;
  }
}

/** 404 as DigitalOcean words it. */
export const notFound = (message = 'The resource you were accessing could not be found.'): ApiError =>
  new ApiError(404, 'not_found', message);

/** 422: the request was understood but its content is not acceptable. */
export const unprocessable = (message: string): ApiError => new ApiError(422, 'unprocessable_entity', message);

/** 400: the request could not be read at all (e.g. the body is not JSON). */
export const badRequest = (message: string): ApiError => new ApiError(400, 'bad_request', message);

/** DigitalOcean's message when an action meets a droplet that is busy. */
export const PENDING_EVENT = 'Droplet already has a pending event.';

/** DigitalOcean's message when a create would pass the account's droplet limit. */
export const DROPLET_LIMIT = 'creating this/these droplet(s) will exceed your droplet limit';
