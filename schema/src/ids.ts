/**
 * Row ids are uuids: anything else can never name a row, and must not reach a uuid cast (it
 * would be a database error rather than a plain "not found").
 */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` has the shape of a row id. */
export const isUuid = (value: string): boolean => UUID.test(value);
