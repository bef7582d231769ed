import { StratusError } from './stratus-error';

export class AlreadyExistsError extends StratusError {
  override readonly name = 'AlreadyExistsError';
  readonly code = 'ALREADY_EXISTS';
  readonly status = 409;
  readonly reason = 'AlreadyExists';
}
