import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class UnsupportedMediaTypeError extends StratusError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly code = ErrorCode.UnsupportedMediaType;
  readonly status = 415;
  readonly reason = 'UnsupportedMediaType';
}
