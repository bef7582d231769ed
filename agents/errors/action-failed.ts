import { ErrorCode, hasCode } from '../../errors';

/** A libvirt action of a plan failed; `reason` is the CamelCase reason reported in status. */
export class ActionFailedError extends Error {
  override readonly name = 'ActionFailedError';
  readonly code = ErrorCode.ActionFailed;
  readonly reason: string;
  readonly action: string;
  /** the libvirt error code, e.g. VIR_ERR_NO_STORAGE_POOL, when there is one */
  readonly libvirtCode?: string;

  constructor(action: string, reason: string, message: string, options: { cause?: unknown; libvirtCode?: string } = {}) {
    super(message, { cause: options.cause });
    this.action = action;
    this.reason = reason;
    this.libvirtCode = options.libvirtCode;
  }
}

export function isActionFailedError(err: unknown): err is ActionFailedError {
  return hasCode(err, ErrorCode.ActionFailed);
}
