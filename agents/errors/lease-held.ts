import { ErrorCode } from '../../errors';

/** The host's lease is held by another agent (another process claims the same host name). */
export class LeaseHeldError extends Error {
  override readonly name = 'LeaseHeldError';
  readonly code = ErrorCode.LeaseHeld;
  readonly holder: string;

  constructor(host: string, holder: string) {
    super(`the lease of host ${host} is held by ${holder}`);
    this.holder = holder;
  }
}
