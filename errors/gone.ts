import { StratusError } from './stratus-error';

export class GoneError extends StratusError {
  override readonly name = 'GoneError';
  readonly code = 'EXPIRED';
  readonly status = 410;
  readonly reason = 'Expired';
}
