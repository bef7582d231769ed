import { ErrorCode, hasCode } from '../../errors';

/** One part of a host network apply that failed: a network (by ns/name) or, without one, the host-wide part. */
export interface HostNetworkFailure {
  network?: string;
  message: string;
}

/**
 * apply() could not build everything: the rest was still converged. `failures` says which
 * networks are not ready and why, for the Host's status.networks[].
 */
export class HostNetworkError extends Error {
  override readonly name = 'HostNetworkError';
  readonly code = ErrorCode.HostNetwork;
  readonly failures: HostNetworkFailure[];

  constructor(failures: HostNetworkFailure[]) {
    super(`host network: ${failures.map((f) => (f.network ? `${f.network}: ${f.message}` : f.message)).join('; ')}`);
    this.failures = failures;
  }
}

export function isHostNetworkError(err: unknown): err is HostNetworkError {
  return hasCode(err, ErrorCode.HostNetwork);
}
