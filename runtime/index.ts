// The controller runtime shared by controllers/ and agents/: work queue, informer, controller,
// manager, clocks. Keep this API stable.

export * from './clock';
export * from './fake-clock';
export * from './rate-limiter';
export * from './work-queue';
export * from '../kube/keys';
export * from '../kube/freeze';
export * from './informer';
export * from './controller';
export * from './manager';
export * from './metrics';
export * from './terminal-error';
