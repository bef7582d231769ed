import { ErrorCode } from './codes';
import { StratusError } from './stratus-error';

/** An identity provider (LDAP directory, OIDC key set) could not be reached: retry later. */
export class AuthUnavailableError extends StratusError {
  override readonly name = 'AuthUnavailableError';
  readonly code = ErrorCode.AuthUnavailable;
  readonly status = 503;
  readonly reason = 'ServiceUnavailable';
}
