import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class NotAcceptableError extends StratusError {
  override readonly name = 'NotAcceptableError';
  readonly code = ErrorCode.NotAcceptable;
  readonly status = 406;
  readonly reason = 'NotAcceptable';
}
