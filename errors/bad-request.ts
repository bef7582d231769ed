import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class BadRequestError extends StratusError {
  override readonly name = 'BadRequestError';
  readonly code = ErrorCode.BadRequest;
  readonly status = 400;
  readonly reason = 'BadRequest';
}
