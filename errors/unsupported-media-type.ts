import { StratusError } from './stratus-error';

export class UnsupportedMediaTypeError extends StratusError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  readonly status = 415;
  readonly reason = 'UnsupportedMediaType';
}
