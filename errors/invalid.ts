import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class InvalidError extends StratusError {
  override readonly name = 'InvalidError';
  readonly code = ErrorCode.Invalid;
  readonly status = 422;
  readonly reason = 'Invalid';
}
