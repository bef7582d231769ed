// kube/equal.ts: JSON equality, the one rule for "nothing changed" (status writes, generation, apply).
import { jsonEqual } from '../../kube/equal';

test('object key order does not matter, array order does', () => {
  expect(jsonEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
  expect(jsonEqual([1, 2], [2, 1])).toBe(false);
  expect(jsonEqual({ a: [1] }, { a: [1, 1] })).toBe(false);
});

test('values of different types differ', () => {
  expect(jsonEqual(1, '1')).toBe(false);
  expect(jsonEqual({}, [])).toBe(false);
  expect(jsonEqual(null, {})).toBe(false);
  expect(jsonEqual({ a: null }, {})).toBe(false);
  expect(jsonEqual('x', 'x')).toBe(true);
});

test('undefined is what JSON writes of it: an absent property, null elsewhere', () => {
  expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
  expect(jsonEqual({ a: undefined }, { b: undefined })).toBe(true);
  expect(jsonEqual(undefined, null)).toBe(true);
  expect(jsonEqual([undefined], [null])).toBe(true);
  expect(jsonEqual(undefined, {})).toBe(false);
});

test('own properties only: a key named __proto__ is data', () => {
  const a = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
  expect(jsonEqual(a, JSON.parse('{"__proto__": {"x": 1}}'))).toBe(true);
  expect(jsonEqual(a, {})).toBe(false);
  expect(jsonEqual({}, a)).toBe(false);
});
