import { StratusError } from './stratus-error';

export class MethodNotAllowedError extends StratusError {
  override readonly name = 'MethodNotAllowedError';
  readonly code = 'METHOD_NOT_ALLOWED';
  readonly status = 405;
  readonly reason = 'MethodNotAllowed';
}
