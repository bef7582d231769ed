import { ErrorCode } from '../../errors';

/** The agent's flags or environment are invalid; main() prints the message and exits 2. */
export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
  readonly code = ErrorCode.AgentConfig;
}
