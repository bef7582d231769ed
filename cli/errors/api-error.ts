// An HTTP error answer of the API server, usually carrying a Kubernetes Status object.

import { ErrorCode, hasCode } from '../../errors';
import type { Status, StatusDetails } from '../../kube/wire';
import { CliError } from './cli-error';

const REASON_BY_STATUS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export class ApiError extends CliError {
  override name = 'ApiError';
  override readonly code = ErrorCode.ApiError;
  /** HTTP status code */
  readonly status: number;
  /** Status.reason, e.g. NotFound; derived from the HTTP code when the body has none */
  readonly reason: string;
  readonly details?: StatusDetails;
  /** the Status object as the server sent it, when it sent one */
  readonly statusObject?: Partial<Status>;

  constructor(status: number, reason: string, message: string, details?: StatusDetails, statusObject?: Partial<Status>) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.details = details;
    this.statusObject = statusObject;
  }

  /** Builds the error from an HTTP error answer: a Status body, another JSON body or plain text. */
  static fromResponse(httpStatus: number, body: unknown, statusText = ''): ApiError {
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const s = body as Partial<Status>;
      if (s.kind === 'Status' || typeof s.message === 'string' || typeof s.reason === 'string') {
        const code = typeof s.code === 'number' && s.code >= 400 ? s.code : httpStatus;
        return new ApiError(
          code,
          s.reason || REASON_BY_STATUS[code] || '',
          s.message || statusText || `the server responded with HTTP ${httpStatus}`,
          s.details,
          s,
        );
      }
    }
    const text = typeof body === 'string' ? body.trim() : '';
    return new ApiError(
      httpStatus,
      REASON_BY_STATUS[httpStatus] || '',
      text || statusText || `the server responded with HTTP ${httpStatus}`,
    );
  }
}

export function isApiError(err: unknown): err is ApiError {
  return hasCode(err, ErrorCode.ApiError);
}

/** True for a 404 answer. */
export function isNotFound(err: unknown): boolean {
  return isApiError(err) && err.status === 404;
}
