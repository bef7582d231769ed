export * from './types';
export * from './rv';
export * from './selectors';
export * from './feed';
export * from './object-store';
export * from './migrations';
export * from './cassandra';
