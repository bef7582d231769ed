// What the frontend's logger never writes: credentials in headers and bodies (pino redaction).
// Nothing logs headers or bodies today; this keeps it so if someone adds `{ req }` to a log line.

import type { LoggerOptions } from 'pino';

export const LOG_REDACT: LoggerOptions['redact'] = {
  paths: [
    'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
    'authorization', 'password', 'token', '*.authorization', '*.password', '*.token', '*.bindPassword',
  ],
  censor: '[redacted]',
};
