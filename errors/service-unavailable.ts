import { StratusError } from './stratus-error';

export class ServiceUnavailableError extends StratusError {
  override readonly name = 'ServiceUnavailableError';
  readonly code = 'SERVICE_UNAVAILABLE';
  readonly status = 503;
  readonly reason = 'ServiceUnavailable';
}
