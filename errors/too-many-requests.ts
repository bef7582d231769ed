import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class TooManyRequestsError extends StratusError {
  override readonly name = 'TooManyRequestsError';
  readonly code = ErrorCode.TooManyRequests;
  readonly status = 429;
  readonly reason = 'TooManyRequests';
}
