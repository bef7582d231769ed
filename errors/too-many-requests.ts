import { StratusError } from './stratus-error';

export class TooManyRequestsError extends StratusError {
  override readonly name = 'TooManyRequestsError';
  readonly code = 'TOO_MANY_REQUESTS';
  readonly status = 429;
  readonly reason = 'TooManyRequests';
}
