// The controller runtime shared by controllers/ and agents/: work queue, informer, controller,
// runnables (Periodic, HttpServerRunnable), manager, clocks. Keep this API stable.

export * from './clock';
export * from './fake-clock';
export * from './rate-limiter';
export * from './work-queue';
export * from '../kube/keys';
export * from '../schemas/freeze';
export * from './informer';
export * from './controller';
export * from './runnable';
export * from './periodic';
export * from './manager';
export * from './http-server';
export * from './metrics';
export * from './terminal-error';
