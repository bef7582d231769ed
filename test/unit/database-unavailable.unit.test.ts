// Which Cassandra driver errors the API answers 503 (retry) rather than 500 (a bug).
import { errors, types } from 'cassandra-driver';
import { isDatabaseUnavailable } from '../../store/unavailable';

test('node loss, too few replicas, timeouts and closed sockets are "unavailable"', () => {
  expect(isDatabaseUnavailable(new errors.NoHostAvailableError({}))).toBe(true);
  expect(isDatabaseUnavailable(new errors.OperationTimedOutError('timed out', '127.0.0.1:9042'))).toBe(true);
  expect(isDatabaseUnavailable(new errors.ResponseError(types.responseErrorCodes.unavailableException, 'Cannot achieve consistency level QUORUM'))).toBe(true);
  expect(isDatabaseUnavailable(new errors.ResponseError(types.responseErrorCodes.writeTimeout, 'write timeout'))).toBe(true);
  expect(isDatabaseUnavailable(new (errors.DriverError as unknown as new (message: string) => Error)('Socket was closed'))).toBe(true);
});

test('a client this process already shut down is a bug (500), not an unavailable database', () => {
  expect(isDatabaseUnavailable(new errors.NoHostAvailableError(null as unknown as object, 'Connecting after shutdown is not supported'))).toBe(false);
});

test('query bugs and non-driver errors are not', () => {
  expect(isDatabaseUnavailable(new errors.ResponseError(types.responseErrorCodes.syntaxError, 'line 1:0 no viable alternative'))).toBe(false);
  expect(isDatabaseUnavailable(new errors.ResponseError(types.responseErrorCodes.invalid, 'Undefined column name x'))).toBe(false);
  expect(isDatabaseUnavailable(new TypeError('Cannot read properties of undefined'))).toBe(false);
  expect(isDatabaseUnavailable(undefined)).toBe(false);
});
