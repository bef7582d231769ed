import { StratusError } from './stratus-error';

export class RequestEntityTooLargeError extends StratusError {
  override readonly name = 'RequestEntityTooLargeError';
  readonly code = 'REQUEST_ENTITY_TOO_LARGE';
  readonly status = 413;
  readonly reason = 'RequestEntityTooLarge';
}
