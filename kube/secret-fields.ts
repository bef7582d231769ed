// Fields of objects that can hold secrets and never go to a log line: a VM's cloud-init user data,
// wherever a logged value carries it (the field itself, the object, a request body, a nested copy).

/** pino `redact` paths (fast-redact syntax): userData at the top and up to four levels down. */
export const SECRET_LOG_PATHS: readonly string[] = ['userData', '*.userData', '*.*.userData', '*.*.*.userData', '*.*.*.*.userData'];

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';
