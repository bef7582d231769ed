import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class UnauthorizedError extends StratusError {
  override readonly name = 'UnauthorizedError';
  readonly code = ErrorCode.Unauthorized;
  readonly status = 401;
  readonly reason = 'Unauthorized';
}
