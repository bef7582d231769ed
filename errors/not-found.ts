import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class NotFoundError extends StratusError {
  override readonly name = 'NotFoundError';
  readonly code = ErrorCode.NotFound;
  readonly status = 404;
  readonly reason = 'NotFound';
}
