// What the frontend's logger never writes: credentials in headers and bodies, and the secret fields
// of objects (cloud-init user data: kube/secret-fields.ts), by pino redaction.
// Nothing logs headers or bodies today; this keeps it so if someone adds `{ req }` to a log line.

import type { LoggerOptions } from 'pino';
import { REDACTED, SECRET_LOG_PATHS } from '../../kube/secret-fields';

export const LOG_REDACT: LoggerOptions['redact'] = {
  paths: [
    'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
    'authorization', 'password', 'token', '*.authorization', '*.password', '*.token', '*.bindPassword',
    ...SECRET_LOG_PATHS,
  ],
  censor: REDACTED,
};
