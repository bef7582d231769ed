import { StratusError } from './stratus-error';

export class NotFoundError extends StratusError {
  override readonly name = 'NotFoundError';
  readonly code = 'NOT_FOUND';
  readonly status = 404;
  readonly reason = 'NotFound';
}
