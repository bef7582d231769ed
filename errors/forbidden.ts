import { StratusError } from './stratus-error';

export class ForbiddenError extends StratusError {
  override readonly name = 'ForbiddenError';
  readonly code = 'FORBIDDEN';
  readonly status = 403;
  readonly reason = 'Forbidden';
}
