// The schemas package: kinds registry (with its printer columns), validation, quantities and the types
// generated from schemas/*.json (schemas/types.gen.ts, written by scripts/gen-types.js).

export * from './kinds';
export * from './validate';
export * from './quantity';
export type * from './types.gen';
