export { ActionFailedError, isActionFailedError } from './action-failed';
export { LeaseHeldError } from './lease-held';
export { AgentConfigError } from './agent-config';
export { HostNetworkError, isHostNetworkError, type HostNetworkFailure } from './host-network';
