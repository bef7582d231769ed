export * from '../kube/types';
export * from './rv';
export * from '../kube/selectors';
export * from './feed';
export * from './object-store';
export * from './migrations';
export * from './cassandra';
