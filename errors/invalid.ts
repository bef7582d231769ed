import { StratusError } from './stratus-error';

export class InvalidError extends StratusError {
  override readonly name = 'InvalidError';
  readonly code = 'INVALID';
  readonly status = 422;
  readonly reason = 'Invalid';
}
