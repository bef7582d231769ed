import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class MethodNotAllowedError extends StratusError {
  override readonly name = 'MethodNotAllowedError';
  readonly code = ErrorCode.MethodNotAllowed;
  readonly status = 405;
  readonly reason = 'MethodNotAllowed';
}
