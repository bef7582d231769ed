// The schemas package: kinds registry, validation, quantities, printer columns and the types
// generated from schemas/*.json (schemas/types.gen.ts, written by scripts/gen-types.js).

export * from './kinds';
export * from './validate';
export * from './quantity';
export * from './printer';
export type * from './types.gen';
