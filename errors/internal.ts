import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

/** An unexpected failure: its message is never shown to clients. */
export class InternalError extends StratusError {
  override readonly name = 'InternalError';
  readonly code = ErrorCode.Internal;
  readonly status = 500;
  readonly reason = 'InternalError';
  override readonly expose = false;
}
