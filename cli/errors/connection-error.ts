// No server in the list could be reached (refused, reset before a response, DNS, connect timeout).

import { ErrorCode } from '../../errors';
import { CliError } from './cli-error';

export interface ConnectionAttempt {
  server: string;
  /** e.g. ECONNREFUSED, ENOTFOUND, UND_ERR_CONNECT_TIMEOUT */
  errorCode: string;
  message: string;
}

export class ConnectionError extends CliError {
  override name = 'ConnectionError';
  override readonly code = ErrorCode.Connection;
  readonly attempts: ConnectionAttempt[];

  constructor(attempts: ConnectionAttempt[]) {
    super(
      attempts.length === 0
        ? 'no server configured: pass --server or set "servers" in the config file'
        : `unable to connect to the server: ${attempts.map((a) => `${a.server}: ${a.message}`).join('; ')}`,
    );
    this.attempts = attempts;
  }
}
