// A manifest that cannot be read or parsed; the message names the file (and document).

import { ErrorCode } from '../../errors';
import { CliError } from './cli-error';

export class ManifestError extends CliError {
  override name = 'ManifestError';
  override readonly code = ErrorCode.Manifest;
}
