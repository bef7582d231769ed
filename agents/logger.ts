/**
 * The agent process's logger: JSON lines (pino) with the secret fields of objects (cloud-init
 * user data) redacted, wherever a log line carries a VM.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACTED, SECRET_LOG_PATHS } from '../kube/secret-fields';

/** A logger at `level` writing to `destination` (default stdout). */
export function agentLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { component: 'agent' }, redact: { paths: [...SECRET_LOG_PATHS], censor: REDACTED } };
  return destination ? pino(options, destination) : pino(options);
}
