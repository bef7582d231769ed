// Placement rules without I/O: the symmetric anti-affinity rule (an index of the required terms
// placed VMs hold, compiled into terms of the VM being placed, then the filters), and which
// topology claims a member of an anti-affinity group needs on a host.
import {
  compileSymmetricTerms, filterHost, requiredAntiAffinity, termIdentity, type HostView,
} from '../../controllers/placement/filters';
import { HeldTermIndex } from '../../controllers/placement/placed-index';
import { decide, unschedulableMessage, type ClusterSnapshot } from '../../controllers/placement/decide';
import { PackedHosts } from '../../controllers/placement/packed';
import { ZERO } from '../../controllers/placement/resources';
import { groupTerms, topologyClaimName, topologyClaimsOn } from '../../controllers/placement/topology-claims';
import { labelSelectorFromObject } from '../../kube/selectors';

const Gi = 2 ** 30;

function host(name: string, labels: Record<string, string> = {}): HostView {
  return { name, labels, taints: [], unschedulable: false, ready: true, allocatable: { cpu: 16, memory: 16 * Gi, storage: Infinity } };
}

const hosts = [host('a', { rack: 'r1' }), host('b', { rack: 'r1' }), host('c', { rack: 'r2' }), host('d')];
const byName = new Map(hosts.map((h) => [h.name, h]));
const filter = (terms: ReturnType<typeof compileSymmetricTerms>) =>
  Object.fromEntries(hosts.map((h) => [h.name, filterHost({ request: { cpu: 1, memory: Gi, storage: 0 }, tolerations: [], terms }, h, ZERO) ?? 'fits']));

describe('symmetric anti-affinity', () => {
  const avoidWeb = (topologyKey: string) => requiredAntiAffinity({ antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey }] });

  test("a VM is kept out of the domains of placed VMs whose required anti-affinity selects it, though it has no rules itself", () => {
    const idx = new HeldTermIndex();
    idx.set({ key: 'p/db-0', namespace: 'p', host: 'a' }, avoidWeb('rack'));
    const web = { key: 'p/web-0', labels: { app: 'web' } };
    const terms = compileSymmetricTerms(web, [...idx.selecting('p', web.labels)].map((term) => ({ term })), (n) => byName.get(n));
    expect(filter(terms)).toEqual({ a: 'anti-affinity conflict', b: 'anti-affinity conflict', c: 'fits', d: 'fits' });
    // host-level: only the holder's host
    idx.set({ key: 'p/db-0', namespace: 'p', host: 'a' }, avoidWeb('host'));
    const hostTerms = compileSymmetricTerms(web, [...idx.selecting('p', web.labels)].map((term) => ({ term })), (n) => byName.get(n));
    expect(filter(hostTerms)).toEqual({ a: 'anti-affinity conflict', b: 'fits', c: 'fits', d: 'fits' });
  });

  test('terms that do not select the VM, of other projects, or held by the VM itself impose nothing', () => {
    const idx = new HeldTermIndex();
    idx.set({ key: 'p/db-0', namespace: 'p', host: 'a' }, avoidWeb('rack'));
    expect([...idx.selecting('p', { app: 'db' })]).toHaveLength(0);
    expect([...idx.selecting('q', { app: 'web' })]).toHaveLength(0);
    // a VM being placed again still appears under its old host: it does not keep itself out
    idx.set({ key: 'p/web-0', namespace: 'p', host: 'c' }, avoidWeb('rack'));
    idx.delete('p/db-0');
    const self = { key: 'p/web-0', labels: { app: 'web' } };
    expect(compileSymmetricTerms(self, [...idx.selecting('p', self.labels)].map((term) => ({ term })), (n) => byName.get(n))).toEqual([]);
    // a source may drop holders another source already reports (claims of VMs already bound)
    expect(compileSymmetricTerms({ key: 'p/x' }, [...idx.selecting('p', self.labels)].map((term) => ({ term, counts: () => false })), (n) => byName.get(n))).toEqual([]);
  });

  test('the members of a group holding one rule are one index entry whatever the spelling; removal forgets them', () => {
    const idx = new HeldTermIndex();
    idx.set({ key: 'p/db-0', namespace: 'p', host: 'a' }, requiredAntiAffinity({ antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] }));
    idx.set({ key: 'p/db-1', namespace: 'p', host: 'c' }, requiredAntiAffinity({
      antiAffinity: [{ labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'db'] }] }, topologyKey: 'rack' }],
    }));
    const entries = [...idx.selecting('p', { app: 'db' })];
    expect(entries).toHaveLength(1);
    expect([...entries[0].holders.keys()].sort()).toEqual(['a', 'c']);
    const domains = compileSymmetricTerms({ key: 'p/db-2' }, entries.map((term) => ({ term })), (n) => byName.get(n))[0].domains;
    expect([...domains].sort()).toEqual(['r1', 'r2']);
    idx.delete('p/db-0');
    idx.delete('p/db-1');
    expect([...idx.selecting('p', { app: 'db' })]).toHaveLength(0);
  });

  test('preferred anti-affinity terms are not held (they only score)', () => {
    expect(requiredAntiAffinity({ antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } }, required: false }] })).toEqual([]);
    expect(requiredAntiAffinity({ antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } } }] })).toEqual([{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'host' }]);
  });
});

describe('topology claims of anti-affinity groups', () => {
  const rackRule = { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] };

  test('a VM whose rule over a rack selects itself needs one record per rack; host-level and foreign rules need none', () => {
    const g = groupTerms(rackRule, { app: 'db' });
    expect(g).toHaveLength(1);
    const [r1] = topologyClaimsOn(g, host('a', { rack: 'r1' }));
    expect(r1).toMatchObject({ topologyKey: 'rack', value: 'r1' });
    expect(topologyClaimsOn(g, host('b', { rack: 'r1' }))[0].name).toBe(r1.name);
    expect(topologyClaimsOn(g, host('c', { rack: 'r2' }))[0].name).not.toBe(r1.name);
    expect(topologyClaimsOn(g, host('d'))).toEqual([]); // a host outside every rack
    expect(groupTerms(rackRule, { app: 'web' })).toEqual([]); // keeps away from db VMs without being one
    expect(groupTerms({ antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'host' }] }, { app: 'db' })).toEqual([]);
  });

  test('record names depend on the term, not on how its selector is spelt', () => {
    const a = termIdentity(labelSelectorFromObject({ matchLabels: { app: 'db', tier: 'x' } }), 'rack');
    const b = termIdentity(labelSelectorFromObject({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['x'] }, { key: 'app', operator: 'In', values: ['db'] }] }), 'rack');
    expect(a).toBe(b);
    expect(topologyClaimName(a, 'r1')).toBe(topologyClaimName(b, 'r1'));
    expect(termIdentity(labelSelectorFromObject({ matchLabels: { app: 'db' } }), 'zone')).not.toBe(termIdentity(labelSelectorFromObject({ matchLabels: { app: 'db' } }), 'rack'));
  });
});

describe('symmetric anti-affinity in a decision', () => {
  test('decide() closes the domains of placed VMs whose required rule selects the VM, on the packed fast path too', () => {
    const idx = new HeldTermIndex();
    idx.set({ key: 'p/db-0', namespace: 'p', host: 'a' }, requiredAntiAffinity({ antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'rack' }] }));
    const packed = new PackedHosts();
    packed.rebuild(hosts, () => ZERO);
    const snapshot: ClusterSnapshot = {
      hosts, host: (n) => byName.get(n), allocated: () => ZERO, placedMatching: () => [],
      packed: () => packed,
      symmetricTerms: (vm) => compileSymmetricTerms(vm, [...idx.selecting(vm.namespace, vm.labels)].map((term) => ({ term })), (n) => byName.get(n)),
    };
    const req = { cpu: 1, memory: Gi, storage: 0 };
    const web = decide({ key: 'p/web-0', namespace: 'p', labels: { app: 'web' }, request: req }, snapshot);
    expect(web.ranked.map((r) => r.host).sort()).toEqual(['c', 'd']);
    // A VM the rule does not select may go anywhere.
    expect(decide({ key: 'p/api-0', namespace: 'p', labels: { app: 'api' }, request: req }, snapshot).ranked).toHaveLength(4);
    // Nowhere left: the message says why.
    const onlyRack1 = { ...snapshot, hosts: hosts.slice(0, 2), packed: undefined };
    const none = decide({ key: 'p/web-1', namespace: 'p', labels: { app: 'web' }, request: req }, onlyRack1);
    expect(unschedulableMessage(none)).toBe('0/2 hosts fit: 2 anti-affinity conflict');
  });
});
