import { StratusError } from './stratus-error';

export class NotAcceptableError extends StratusError {
  override readonly name = 'NotAcceptableError';
  readonly code = 'NOT_ACCEPTABLE';
  readonly status = 406;
  readonly reason = 'NotAcceptable';
}
