// A wait (wait, delete --wait, get -w --timeout) ran out of time. Exit code 1.

import { ErrorCode } from '../../errors';
import { CliError } from './cli-error';

export class WaitTimeoutError extends CliError {
  override name = 'WaitTimeoutError';
  override readonly code = ErrorCode.WaitTimeout;
}
