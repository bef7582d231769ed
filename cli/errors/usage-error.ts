// A usage error: bad flags, bad arguments, unknown kind. Exit code 2.

import { ErrorCode } from '../../errors';
import { CliError } from './cli-error';

export class UsageError extends CliError {
  override name = 'UsageError';
  override readonly code = ErrorCode.Usage;
  override readonly exitCode = 2;
}
