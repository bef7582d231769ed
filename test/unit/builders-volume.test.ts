// Storage volume XML builder: blank qcow2, or a copy-on-write overlay of an image.
import { buildVolumeXml } from '../../agents/domain';

test('a blank volume is thin qcow2 of the given capacity', () => {
  const xml = buildVolumeXml({ name: 'stratus.demo.web.data.0123abcd', capacityBytes: 2 * 1024 ** 3 });
  expect(xml).toContain('<name>stratus.demo.web.data.0123abcd</name>');
  expect(xml).toContain("<capacity unit='bytes'>2147483648</capacity>");
  expect(xml).toContain("<format type='qcow2'/>");
  expect(xml).not.toContain('backingStore');
});

test('a clone is backed by the image file in its format', () => {
  const xml = buildVolumeXml({ name: 'v', capacityBytes: 1024, backing: { path: '/images/debian.raw', format: 'raw' } });
  expect(xml).toContain("<backingStore>\n    <path>/images/debian.raw</path>\n    <format type='raw'/>\n  </backingStore>");
});

test('rejects a capacity that is not a positive integer', () => {
  expect(() => buildVolumeXml({ name: 'v', capacityBytes: 0 })).toThrow(RangeError);
  expect(() => buildVolumeXml({ name: 'v', capacityBytes: 1.5 })).toThrow(RangeError);
});
