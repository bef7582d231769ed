// Domain XML builder: the ownership mark and its parser.
import { buildMetadata, parseOwner, OWNER_NS } from '../../agents/domain';

const owner = { uid: 'u-1', namespace: 'demo', name: 'web-1', host: 'hv-1', generation: 3 };

test('round-trips the owner through the metadata element', () => {
  const xml = buildMetadata(owner);
  expect(xml).toContain(`xmlns:stratus='${OWNER_NS}'`);
  expect(parseOwner(xml)).toEqual(owner);
});

test('reads the element as libvirt gives it back (other prefix, double quotes, no namespace declaration)', () => {
  expect(parseOwner(`<metadata><x:vm xmlns:x="${OWNER_NS}" uid="u-1" namespace="demo" name="web-1" host="hv-1" generation="3"/></metadata>`)).toEqual(owner);
  expect(parseOwner(`<vm uid="u-1" namespace="demo" name="web-1" host="hv-1" generation="3"/>`)).toEqual(owner);
});

test('a domain without our mark, or with another namespace\'s vm element, has no owner', () => {
  expect(parseOwner('<domain><name>x</name></domain>')).toBeUndefined();
  expect(parseOwner(`<o:vm xmlns:o='https://example.com/other' uid='u' namespace='n' name='x' host='h'/>`)).toBeUndefined();
  expect(parseOwner(`<stratus:vm xmlns:stratus='${OWNER_NS}' uid='u'/>`)).toBeUndefined();
});

test('the cloud-init seed hash and the SSH port ride along in the mark, and only when set', () => {
  const xml = buildMetadata({ ...owner, seed: 'abc123', sshPort: 22013 });
  expect(xml).toContain("seed='abc123' sshPort='22013'/>");
  expect(parseOwner(xml)).toEqual({ ...owner, seed: 'abc123', sshPort: 22013 });
  expect(buildMetadata(owner)).not.toContain('seed=');
  expect(parseOwner(`<vm uid="u-1" namespace="demo" name="web-1" host="hv-1" generation="3" sshPort="junk"/>`)).toEqual(owner);
});
