import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

export class ServiceUnavailableError extends StratusError {
  override readonly name = 'ServiceUnavailableError';
  readonly code = ErrorCode.ServiceUnavailable;
  readonly status = 503;
  readonly reason = 'ServiceUnavailable';
}
