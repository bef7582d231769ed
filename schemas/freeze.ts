// Deep freezing of shared JSON values: compiled schemas here, cached objects in the informer
// (runtime/). Here, the lowest layer both may import (STYLE: never mutate what you read from a cache).

/** `T` with every property, array and nested value read-only. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [P in keyof T]: DeepReadonly<T[P]> }
    : T;

/** Freezes `o` and everything reachable from it, in place (stops at what is already frozen); returns `o`. */
export function deepFreeze<T>(o: T): DeepReadonly<T> {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o as DeepReadonly<T>;
}
