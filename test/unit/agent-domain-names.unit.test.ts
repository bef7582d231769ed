/** DomainNames: which domains certainly do not exist on a connection. */
import { DomainNames } from '../../agents/vm/domain-names';
import type { LibvirtConnection } from '../../libvirt';

const connA = {} as LibvirtConnection;
const connB = {} as LibvirtConnection;

test('answers "absent" only after a listing of the same connection, and follows defines and undefines', () => {
  const n = new DomainNames();
  expect(n.knownAbsent(connA, 'demo.a')).toBe(false); // never listed: look it up
  n.beginListing(connA);
  n.add('demo.late'); // defined while the listing ran
  n.fill(connA, ['demo.x']);
  expect(n.knownAbsent(connA, 'demo.a')).toBe(true);
  expect(n.knownAbsent(connA, 'demo.x')).toBe(false);
  expect(n.knownAbsent(connA, 'demo.late')).toBe(false);
  expect(n.knownAbsent(connB, 'demo.a')).toBe(false); // another connection
  n.add('demo.a');
  expect(n.knownAbsent(connA, 'demo.a')).toBe(false);
  n.delete('demo.a');
  expect(n.knownAbsent(connA, 'demo.a')).toBe(true);
  n.invalidate();
  expect(n.knownAbsent(connA, 'demo.a')).toBe(false);
});
