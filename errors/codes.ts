// The stable `code` of every typed error, in one place: each error class sets its code from here
// and callers match with hasCode(err, ErrorCode.X), never with a string literal.

export const ErrorCode = {
  // API errors (errors/*.ts): each maps to an HTTP status and a Kubernetes Status reason
  NotFound: 'NOT_FOUND',
  AlreadyExists: 'ALREADY_EXISTS',
  Conflict: 'CONFLICT',
  Invalid: 'INVALID',
  BadRequest: 'BAD_REQUEST',
  /** a resourceVersion too old to resume from (HTTP 410 Gone) */
  Expired: 'EXPIRED',
  RequestEntityTooLarge: 'REQUEST_ENTITY_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  NotAcceptable: 'NOT_ACCEPTABLE',
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  TooManyRequests: 'TOO_MANY_REQUESTS',
  Timeout: 'TIMEOUT',
  ServiceUnavailable: 'SERVICE_UNAVAILABLE',
  Internal: 'INTERNAL',
  QuotaExceeded: 'QUOTA_EXCEEDED',
  AuthUnavailable: 'AUTH_UNAVAILABLE',
  // errors of the other layers (not HTTP errors)
  /** schemas/: a malformed Kubernetes quantity */
  InvalidQuantity: 'InvalidQuantity',
  /** kube/: a JSONPath expression or template that does not parse */
  InvalidJsonPath: 'InvalidJsonPath',
  /** schemas/: a kind the registry does not know */
  UnknownKind: 'UnknownKind',
  /** runtime/: a reconcile error that retrying cannot fix */
  Terminal: 'TERMINAL',
  /** agents/: a libvirt action of a plan failed */
  ActionFailed: 'ACTION_FAILED',
  /** agents/: another agent holds the host's lease */
  LeaseHeld: 'LEASE_HELD',
  /** agents/: the agent's configuration is unusable */
  AgentConfig: 'AGENT_CONFIG',
  /** agents/: part of the host's networks could not be built */
  HostNetwork: 'HOST_NETWORK',
  /** cli/: the errors the CLI reports, each with its exit code */
  CliError: 'CLI_ERROR',
  Usage: 'USAGE',
  Connection: 'CONNECTION',
  ApiError: 'API_ERROR',
  WaitTimeout: 'WAIT_TIMEOUT',
  Manifest: 'MANIFEST',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
