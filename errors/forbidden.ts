import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class ForbiddenError extends StratusError {
  override readonly name = 'ForbiddenError';
  readonly code = ErrorCode.Forbidden;
  readonly status = 403;
  readonly reason = 'Forbidden';
}
