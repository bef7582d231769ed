import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class AlreadyExistsError extends StratusError {
  override readonly name = 'AlreadyExistsError';
  readonly code = ErrorCode.AlreadyExists;
  readonly status = 409;
  readonly reason = 'AlreadyExists';
}
