// Reading console logs as pods/log does (agents/console/log-tail.ts): the last N lines of a file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copyRange, tailStart } from '../../agents/console/log-tail';

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-tail-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function tail(text: string | Buffer, lines: number | undefined): Promise<string> {
  const f = path.join(dir, 'log');
  fs.writeFileSync(f, text);
  const { start, size } = await tailStart(f, lines);
  const out: Buffer[] = [];
  await copyRange(f, start, size, async (c) => { out.push(c); });
  return Buffer.concat(out).toString();
}

test('the last N lines, with or without a final newline; all of it without N; nothing for 0', async () => {
  expect(await tail('a\nb\nc\n', 2)).toBe('b\nc\n');
  expect(await tail('a\nb\nc', 2)).toBe('b\nc');
  expect(await tail('a\nb\nc\n', 10)).toBe('a\nb\nc\n');
  expect(await tail('a\nb\nc\n', undefined)).toBe('a\nb\nc\n');
  expect(await tail('a\nb\nc\n', 0)).toBe('');
  expect(await tail('\n\n', 1)).toBe('\n');
});

test('a long log is scanned backwards in chunks', async () => {
  const lines = Array.from({ length: 50_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
  expect(await tail(`${lines.join('\n')}\n`, 3)).toBe(`${lines.slice(-3).join('\n')}\n`);
});

test('a log that does not exist yet is empty', async () => {
  expect(await tailStart(path.join(dir, 'missing'), 5)).toEqual({ start: 0, size: 0 });
});
