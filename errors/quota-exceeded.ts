import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

/** A create or update would take a project over its quota (Kubernetes answers 403 Forbidden). */
export class QuotaExceededError extends StratusError {
  override readonly name = 'QuotaExceededError';
  readonly code = ErrorCode.QuotaExceeded;
  readonly status = 403;
  readonly reason = 'Forbidden';
}
