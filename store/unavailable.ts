// Errors that mean "the database could not answer now" (a node died mid-request, too few replicas
// up, a timeout, an overloaded coordinator) rather than a bug: the API answers them 503 with
// Retry-After, so clients retry (against another frontend or node) instead of reporting a 500.

import { errors, types } from 'cassandra-driver';

const RETRYABLE_CODES = new Set<number>([
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.writeTimeout,
  types.responseErrorCodes.readTimeout,
  types.responseErrorCodes.readFailure,
  types.responseErrorCodes.writeFailure,
]);

/** True when `err` says Cassandra (or the connection to it) is unavailable for now. */
export function isDatabaseUnavailable(err: unknown): boolean {
  // A client this process shut down is a bug of ours, not the database's unavailability.
  if (err instanceof errors.NoHostAvailableError && /after shutdown/i.test(err.message)) return false;
  if (err instanceof errors.NoHostAvailableError || err instanceof errors.OperationTimedOutError || err instanceof errors.BusyConnectionError) return true;
  if (err instanceof errors.ResponseError) return RETRYABLE_CODES.has(err.code);
  // A connection closed under a request in flight ("Socket was closed", "Connection closed").
  return err instanceof errors.DriverError && /socket was closed|connection.*closed|not connected/i.test(err.message);
}
