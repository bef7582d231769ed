// judge() and imageStatus(): the verdict on an Image's copy and the status agents write from the
// hosts' reports (entries merged by host, the worst failure first, facts as found). Pure.
import { judge } from '../../agents/images/verdict';
import { hostReport, imageStatus } from '../../agents/images/image-status';
import type { FileFacts } from '../../agents/images/file-facts';

const NOW = Date.parse('2024-05-01T10:00:00Z');
const SUM = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const facts: FileFacts = { sha256: SUM, bytes: 1000 };
const img = (source: Record<string, string>, format?: 'qcow2' | 'raw') => ({ spec: { source, ...(format ? { format } : {}) } });

test('judge: a matching sum is ready; a different one is ChecksumMismatch naming both sums', () => {
  expect(judge(img({ path: '/i', sha256: SUM }), '/i', facts)).toEqual({ state: 'ready', path: '/i', facts });
  expect(judge(img({ path: '/i' }), '/i', facts).state).toBe('ready');
  const bad = judge(img({ path: '/i', sha256: OTHER }), '/i', facts);
  expect(bad).toMatchObject({ state: 'failed', reason: 'ChecksumMismatch', message: `the sha256 of /i is ${SUM}, but spec.source.sha256 is ${OTHER}`, retryAt: Infinity });
});

test('judge: qemu-img\'s format must be the declared one; a downloaded image may not name a backing file', () => {
  expect(judge(img({ path: '/i' }), '/i', { ...facts, format: 'raw', probed: true })).toMatchObject({ reason: 'FormatMismatch', message: '/i is a raw image (qemu-img info), but spec.format is qcow2' });
  expect(judge(img({ path: '/i' }, 'raw'), '/i', { ...facts, format: 'raw', probed: true }).state).toBe('ready');
  expect(judge(img({ url: 'http://x/i' }), '/d', { ...facts, format: 'qcow2', backingFile: '/etc/shadow' })).toMatchObject({ reason: 'InvalidImage' });
  expect(judge(img({ path: '/i' }), '/i', { ...facts, format: 'qcow2', backingFile: '/base.qcow2' }).state).toBe('ready');
});

test('one verified host: phase Ready, Ready=True with the sum, facts as found, the host\'s entry', () => {
  const s = imageStatus({}, [hostReport('hv-1', { state: 'ready', path: '/i', facts: { ...facts, format: 'qcow2', virtualSize: 2 ** 31, probed: true } })], 3, NOW);
  expect(s).toMatchObject({ phase: 'Ready', sha256: SUM, format: 'qcow2', size: '2Gi', observedGeneration: 3, hosts: [{ name: 'hv-1', path: '/i', ready: true, reason: 'Ready' }] });
  expect(s.conditions).toEqual([{ type: 'Ready', status: 'True', reason: 'Ready', message: `verified on host hv-1 (sha256 ${SUM})`, observedGeneration: 3, lastTransitionTime: '2024-05-01T10:00:00Z' }]);
});

test('a mismatch on any host makes the Image Failed with that host\'s message; entries of other hosts are kept', () => {
  const ok = imageStatus({}, [hostReport('hv-1', { state: 'ready', path: '/i', facts })], 1, NOW);
  const bad = judge(img({ path: '/i', sha256: OTHER }), '/i', facts);
  const s = imageStatus(ok, [hostReport('hv-2', bad)], 1, NOW + 1000);
  expect(s.hosts!.map((h) => [h.name, h.ready, h.reason])).toEqual([['hv-1', true, 'Ready'], ['hv-2', false, 'ChecksumMismatch']]);
  expect(s.phase).toBe('Failed');
  expect(s.conditions![0]).toMatchObject({ status: 'False', reason: 'ChecksumMismatch', message: `host hv-2: the sha256 of /i is ${SUM}, but spec.source.sha256 is ${OTHER}` });
});

test('in progress: Downloading (in tenths) or Verifying; unverified copies only: Ready=True reason Unverified', () => {
  const d = imageStatus({}, [hostReport('hv-1', { state: 'downloading', receivedBytes: 55, totalBytes: 100 })], 1, NOW);
  expect(d).toMatchObject({ phase: 'Downloading', hosts: [{ name: 'hv-1', ready: false, reason: 'Downloading', message: '50% of 100 bytes' }] });
  expect(d.conditions![0]).toMatchObject({ status: 'False', reason: 'Downloading', message: 'downloading on host hv-1' });
  const v = imageStatus({}, ['a', 'b', 'c', 'd', 'e'].map((h) => hostReport(h, { state: 'verifying', path: '/i' })), 1, NOW);
  expect(v.conditions![0]).toMatchObject({ reason: 'Verifying', message: 'verifying on hosts a, b, c and 2 more' });
  const u = imageStatus({}, [hostReport('hv-1', { state: 'ready', path: '/nowhere' })], 1, NOW);
  expect(u).toMatchObject({ phase: 'Ready', hosts: [{ name: 'hv-1', ready: true, reason: 'Unverified' }] });
  expect(u.sha256).toBeUndefined();
  expect(u.conditions![0]).toMatchObject({ status: 'True', reason: 'Unverified' });
});

test('a new spec (generation) forgets the entries and facts of the old one', () => {
  const old = imageStatus({}, [hostReport('hv-1', judge(img({ path: '/i', sha256: OTHER }), '/i', facts))], 1, NOW);
  const s = imageStatus(old, [hostReport('hv-2', { state: 'ready', path: '/i', facts: { sha256: OTHER, bytes: 5 } })], 2, NOW + 1000);
  expect(s.hosts!.map((h) => h.name)).toEqual(['hv-2']);
  expect(s).toMatchObject({ phase: 'Ready', sha256: OTHER, size: '5', observedGeneration: 2 });
  expect(s.conditions![0]).toMatchObject({ status: 'True', reason: 'Ready', lastTransitionTime: '2024-05-01T10:00:01Z' });
});
