import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class RequestEntityTooLargeError extends StratusError {
  override readonly name = 'RequestEntityTooLargeError';
  readonly code = ErrorCode.RequestEntityTooLarge;
  readonly status = 413;
  readonly reason = 'RequestEntityTooLarge';
}
