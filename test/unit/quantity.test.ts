// Kubernetes quantities: parsing (bytes, vCPUs) and the canonical forms written back.

import { MAX_QUANTITY, QuantityError, formatBytes, formatCpu, isQuantity, parseQuantity } from '../../schemas/quantity';

describe('parseQuantity', () => {
  test.each<[string | number, number]>([
    ['2Gi', 2 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['1Ki', 1024],
    ['1Ti', 2 ** 40],
    ['1.5Gi', 1610612736],
    ['10G', 10e9],
    ['1k', 1000],
    ['3M', 3e6],
    ['2T', 2e12],
    ['1P', 1e15],
    ['8Pi', 2 ** 53],
    ['9007199254740992', 2 ** 53],
    ['100m', 0.1],
    ['1500m', 1.5],
    ['250u', 0.00025],
    ['2', 2],
    ['0', 0],
    ['+4', 4],
    ['.5', 0.5],
    ['1e3', 1000],
    ['1E3', 1000],
    ['5e-1', 0.5],
    [1073741824, 1073741824],
    [0.5, 0.5],
  ])('%p is %p', (q, n) => {
    expect(parseQuantity(q)).toBe(n);
  });

  test.each<unknown>(['', 'Gi', '2 Gi', '2GB', '2gi', '10K', '-1', '-1Gi', '1..5Gi', 'two', -1, NaN, Infinity, null, undefined, {}])(
    '%p is rejected with a QuantityError',
    (q) => {
      expect(() => parseQuantity(q as string)).toThrow(QuantityError);
      expect(() => parseQuantity(q as string)).toThrow(expect.objectContaining({ code: 'InvalidQuantity', name: 'QuantityError', input: q }));
    },
  );

  test('a quantity too large for a number is rejected', () => {
    expect(() => parseQuantity('1e400')).toThrow(/too large/);
  });

  test.each<string | number>(['1e1000', '1e309', '1e99999999999999999999', '9'.repeat(400), '1E', '1Ei', '9Pi', '9007199254740993', '9007199254740992.5', `9007199254740992.${'0'.repeat(100)}1`, '9.007199254740993e15', '1e16', '8.1Pi', 2 ** 53 + 2, 1e300, Infinity])(
    '%p is above the maximum of 8Pi and is refused, never read as Infinity or capped',
    (q) => {
      expect(() => parseQuantity(q)).toThrow(expect.objectContaining({ code: 'InvalidQuantity', tooLarge: true, message: expect.stringMatching(/too large: must be less than or equal to 8Pi \(9007199254740992\)$/) }));
    },
  );

  test('malformed quantities are not flagged as too large', () => {
    for (const q of ['two', '-1e1000', '1e', '1e1000Gi']) {
      expect(() => parseQuantity(q)).toThrow(expect.objectContaining({ tooLarge: false }));
    }
  });

  test('a tiny exponent is a finite number, and every accepted value is finite and at most the maximum', () => {
    expect(parseQuantity('1e-400')).toBe(0);
    for (const q of ['8Pi', '8192Ti', '9007199254740992', '9007199254740992.000', '9.007199254740992e15', '0.9007199254740992e16', '1e15']) {
      const n = parseQuantity(q);
      expect(Number.isFinite(n) && n <= MAX_QUANTITY).toBe(true);
    }
  });

  test('isQuantity tells valid quantities from the rest', () => {
    expect(['2Gi', 4, '100m'].every(isQuantity)).toBe(true);
    expect(['2GB', -1, true, null].some(isQuantity)).toBe(false);
  });
});

describe('formatBytes', () => {
  test.each<[number, string]>([
    [0, '0'],
    [1, '1'],
    [1000, '1000'],
    [1024, '1Ki'],
    [1536, '1536'],
    [2 * 2 ** 30, '2Gi'],
    [1610612736, '1536Mi'],
    [2 ** 40, '1Ti'],
    [3 * 2 ** 50, '3Pi'],
    [2 ** 60, '1Ei'],
    [1023.2, '1Ki'],
  ])('%p bytes is %p', (n, s) => {
    expect(formatBytes(n)).toBe(s);
  });

  test('formatting then parsing gives the same number of bytes', () => {
    for (const n of [0, 1, 512, 4096, 10e9, 1610612736, 7 * 2 ** 40]) expect(parseQuantity(formatBytes(n))).toBe(n);
  });

  test('sums beyond the maximum (many VMs of 8Pi) still format as a valid quantity, never as 1e+26Ei', () => {
    for (const n of [2 ** 53 * 3, 2 ** 60 * 7, 1e44, 12345678901234567890123]) {
      const s = formatBytes(n);
      expect(s).toMatch(/^[0-9]+([KMGTPE]i)?$/);
      expect(BigInt(s.replace(/[KMGTPE]i$/, '')) * (2n ** BigInt(10 * (' KMGTPE'.indexOf(s.slice(-2, -1)) > 0 && s.endsWith('i') ? ' KMGTPE'.indexOf(s.slice(-2, -1)) : 0)))).toBe(BigInt(n));
    }
    expect(formatBytes(1e44)).not.toMatch(/e\+/);
    expect(formatCpu(1e21)).toBe('1000000000000000000000');
  });

  test('negative and non-finite byte counts are rejected', () => {
    for (const n of [-1, NaN, Infinity]) expect(() => formatBytes(n)).toThrow(QuantityError);
  });
});

describe('formatCpu', () => {
  test.each<[number, string]>([
    [0, '0'],
    [2, '2'],
    [0.1, '100m'],
    [1.5, '1500m'],
    [0.1 * 3, '300m'],
    [0.0001, '1m'],
    [2.00001, '2001m'],
    [2.0000000001, '2'], // float noise below a millionth of a vCPU is not rounded up
  ])('%p vCPUs is %p', (n, s) => {
    expect(formatCpu(n)).toBe(s);
  });

  test('formatting then parsing gives the same number of vCPUs', () => {
    for (const n of [0, 1, 0.25, 1.5, 12]) expect(parseQuantity(formatCpu(n))).toBe(n);
  });

  test('negative vCPUs are rejected', () => {
    expect(() => formatCpu(-0.5)).toThrow(QuantityError);
  });
});
