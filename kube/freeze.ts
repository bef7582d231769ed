// Cached objects are shared by every reader: deep-frozen so no reader can change them by mistake
// (STYLE: never mutate what you read from a cache; structuredClone to change).

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [P in keyof T]: DeepReadonly<T[P]> }
    : T;

export function deepFreeze<T>(o: T): DeepReadonly<T> {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o as DeepReadonly<T>;
}
