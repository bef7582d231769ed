import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class TimeoutError extends StratusError {
  override readonly name = 'TimeoutError';
  readonly code = ErrorCode.Timeout;
  readonly status = 504;
  readonly reason = 'Timeout';
}
