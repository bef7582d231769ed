// config/env.ts: the one integer reader of every STRATUS_* number, strict and naming the variable.
import { int, intValue } from '../../config/env';
import { loadAuthConfig } from '../../config/auth';
import { loadAgentConfig } from '../../config/agent';

test('unset or empty gives the default; digits give the number', () => {
  expect(int({}, 'STRATUS_X', 7)).toBe(7);
  expect(int({ STRATUS_X: '' }, 'STRATUS_X', 7)).toBe(7);
  expect(int({ STRATUS_X: ' 42 ' }, 'STRATUS_X', 7)).toBe(42);
  expect(intValue('--hollow', 3, 0)).toBe(3);
});

test('fractions, signs, exponents, hex and words are refused with the variable named', () => {
  for (const v of ['1.5', '-1', '+1', '1e3', '0x10', 'ten', '1_000']) {
    expect(() => int({ STRATUS_X: v }, 'STRATUS_X', 0)).toThrow(`STRATUS_X must be a non-negative integer, got "${v}"`);
  }
  expect(() => intValue('--fence-ms', 2.5, 0)).toThrow(/--fence-ms must be a non-negative integer/);
});

test('every loader uses it: API security settings and the agent alike', () => {
  expect(() => loadAuthConfig({ STRATUS_RATE_LIMIT_QPS: '0.5' })).toThrow(/STRATUS_RATE_LIMIT_QPS must be a non-negative integer/);
  expect(loadAuthConfig({ STRATUS_RATE_LIMIT_QPS: '20' }).rateLimitQps).toBe(20);
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_SAMPLE_MS: '1e4' })).toThrow(/STRATUS_SAMPLE_MS/);
});
