import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class ConflictError extends StratusError {
  override readonly name = 'ConflictError';
  readonly code = ErrorCode.Conflict;
  readonly status = 409;
  readonly reason = 'Conflict';
}
