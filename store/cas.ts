// Lightweight transactions whose outcome is unknown: the coordinator timed out during the Paxos
// round (CAS write timeout, or no answer at all). Callers read at SERIAL to learn what happened.

/** Whether a failed conditional statement may or may not have been applied. */
export function isCasTimeout(err: unknown): boolean {
  const e = err as { name?: string; writeType?: string; code?: number };
  return (e?.name === 'ResponseError' && (e.code === 0x1100 || e.code === 0x1200)) || e?.writeType === 'CAS' || e?.name === 'OperationTimedOutError';
}
