import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class GoneError extends StratusError {
  override readonly name = 'GoneError';
  readonly code = ErrorCode.Expired;
  readonly status = 410;
  readonly reason = 'Expired';
}
