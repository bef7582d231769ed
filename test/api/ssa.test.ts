// Server-side apply field management (api/ssa): ownership, merge, removal, conflicts, encoding.
// Pure functions, no Cassandra needed: STRATUS_SKIP_CASSANDRA=1 npx jest test/api/ssa.test.ts

import {
  apply, trackUpdate, fieldsOf, toFieldsV1, fromFieldsV1, formatPath, formatConflictMessage,
  conflictCauses, stripManagedFields, FieldSet, encodeLastApplied, LAST_APPLIED_ANNOTATION, type Obj, type ManagedFieldsEntry,
} from '../../api/ssa';
import { deepFreeze } from '../../schemas/freeze';

const AV = 'stratuslab.eu/v1alpha1';
const T0 = '2025-01-01T00:00:00Z';
const T1 = '2025-01-01T00:01:00Z';
const T2 = '2025-01-01T00:02:00Z';
const T3 = '2025-01-01T00:03:00Z';

function vm(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Obj {
  return { apiVersion: AV, kind: 'VirtualMachine', metadata: { name: 'web-1', namespace: 'demo', ...metadata }, spec, ...extra };
}

/** What the store adds on create: identity and server metadata. */
function stored(obj: Obj): Obj {
  const out = structuredClone(obj);
  out.metadata = { ...out.metadata, uid: 'u-1', resourceVersion: '1', generation: 1, creationTimestamp: T0 };
  return out;
}

function entries(obj: Obj): ManagedFieldsEntry[] {
  return (obj.metadata?.managedFields ?? []) as ManagedFieldsEntry[];
}

function entryOf(obj: Obj, manager: string, operation = 'Apply'): ManagedFieldsEntry | undefined {
  return entries(obj).find((e) => e.manager === manager && e.operation === operation);
}

function ownedBy(obj: Obj, manager: string, operation = 'Apply'): string[] {
  const e = entryOf(obj, manager, operation);
  return e ? fromFieldsV1(e.fieldsV1).paths().map(formatPath) : [];
}

function applyOk(current: Obj | undefined, manifest: Obj, manager: string, now: string, force = false): Obj {
  const r = apply(current, manifest, { manager, now, force });
  expect(r.conflicts).toEqual([]);
  return r.object;
}

const base = vm({ runStrategy: 'Always', cpu: 2, memory: '2Gi', disks: [{ name: 'root', image: 'debian-12', size: '10Gi' }] }, { labels: { app: 'web' } });

describe('apply: create', () => {
  test('creating through apply stores the manifest without server metadata and gives the applier every field', () => {
    const manifest = vm({ cpu: 2, disks: [{ name: 'root' }] }, { labels: { app: 'web' }, uid: 'bogus', resourceVersion: '9', managedFields: [{ manager: 'x' }] }, { status: { phase: 'Running' } });
    const { object, conflicts } = apply(undefined, manifest, { manager: 'kubectl', now: T0, force: false });
    expect(conflicts).toEqual([]);
    expect(object).toEqual({
      apiVersion: AV,
      kind: 'VirtualMachine',
      metadata: {
        name: 'web-1', namespace: 'demo', labels: { app: 'web' },
        managedFields: [{
          manager: 'kubectl', operation: 'Apply', apiVersion: AV, time: T0, fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:cpu': {}, 'f:disks': {} } },
        }],
      },
      spec: { cpu: 2, disks: [{ name: 'root' }] },
    });
  });

  test('apply never mutates the live object or the manifest', () => {
    const live = deepFreeze(stored(applyOk(undefined, base, 'kubectl', T0))) as Obj;
    const manifest = deepFreeze(vm({ cpu: 4 }, { labels: { tier: 'front' } })) as Obj;
    const [liveBefore, manifestBefore] = [structuredClone(live), structuredClone(manifest)];
    // a write to either frozen input would throw; each result is a new object with the change
    expect(applyOk(live, manifest, 'kubectl', T1).spec).toMatchObject({ cpu: 4 });
    expect(apply(live, manifest, { manager: 'other', now: T1, force: true }).object.spec).toMatchObject({ cpu: 4 });
    expect(trackUpdate(live, manifest, { manager: 'edit', now: T1 }).spec).toMatchObject({ cpu: 4 });
    expect(live).toEqual(liveBefore);
    expect(manifest).toEqual(manifestBefore);
  });
});

describe('apply: idempotence', () => {
  test('re-applying the same manifest returns a byte-identical object with the same managedFields time', () => {
    const live = stored(applyOk(undefined, base, 'kubectl', T0));
    const again = applyOk(live, structuredClone(base), 'kubectl', T1);
    expect(again).toEqual(live);
    expect(JSON.stringify(again)).toBe(JSON.stringify(live));
    expect(entryOf(again, 'kubectl')?.time).toBe(T0);
  });

  test('re-applying is identical even when other managers, defaults and status are present', () => {
    let live = stored(applyOk(undefined, base, 'kubectl', T0));
    live = trackUpdate(live, { ...live, metadata: { ...live.metadata, finalizers: ['stratuslab.eu/domain'] } }, { manager: 'vm-controller', now: T1 });
    live = trackUpdate(live, { ...live, status: { phase: 'Running' } }, { manager: 'agent', now: T1, subresource: 'status' });
    live = applyOk(live, vm({ cpu: 2 }, { labels: { team: 'a' } }), 'flux', T2);
    const again = applyOk(live, base, 'kubectl', T3);
    expect(JSON.stringify(again)).toBe(JSON.stringify(live));
  });

  test('a default the server fills after apply is neither removed nor a diff on the next identical apply', () => {
    const defaults = (o: Obj): Obj => {
      const out = structuredClone(o);
      const spec = out.spec as Record<string, unknown>;
      spec.runStrategy ??= 'Always';
      spec.networks ??= [{ name: 'default' }];
      return out;
    };
    const manifest = vm({ cpu: 2 });
    const live = stored(defaults(applyOk(undefined, manifest, 'kubectl', T0)));
    expect(live.spec).toEqual({ cpu: 2, runStrategy: 'Always', networks: [{ name: 'default' }] });
    const again = defaults(applyOk(live, manifest, 'kubectl', T1));
    expect(JSON.stringify(again)).toBe(JSON.stringify(live));
    // and the defaulted fields belong to nobody
    expect(ownedBy(again, 'kubectl')).toEqual(['.spec.cpu']);
  });

  test('the defaults hook lets a manager share a list the server defaulted inside', () => {
    const defaults = (o: Obj): Obj => {
      const out = structuredClone(o);
      for (const d of ((out.spec as Record<string, unknown>).disks ?? []) as Record<string, unknown>[]) d.bus ??= 'virtio';
      return out;
    };
    const manifest = vm({ disks: [{ name: 'root', image: 'debian-12' }] });
    const live = stored(apply(undefined, manifest, { manager: 'kubectl', now: T0, force: false, defaults }).object);
    expect(live.spec).toEqual({ disks: [{ name: 'root', image: 'debian-12', bus: 'virtio' }] });
    const shared = apply(live, manifest, { manager: 'flux', now: T1, force: false, defaults });
    expect(shared.conflicts).toEqual([]);
    expect(ownedBy(shared.object, 'flux')).toEqual(['.spec.disks']);
    expect(shared.object.spec).toEqual(live.spec);
  });
});

describe('apply: removal', () => {
  test('a field dropped from the manifest is removed from the object', () => {
    const live = stored(applyOk(undefined, base, 'kubectl', T0));
    const next = applyOk(live, vm({ cpu: 2, disks: [{ name: 'root', image: 'debian-12', size: '10Gi' }] }), 'kubectl', T1);
    expect(next.spec).toEqual({ cpu: 2, disks: [{ name: 'root', image: 'debian-12', size: '10Gi' }] });
    expect(next.metadata?.labels).toBeUndefined(); // the emptied labels map goes too
    expect(next.metadata?.uid).toBe('u-1');
    expect(ownedBy(next, 'kubectl')).toEqual(['.spec.cpu', '.spec.disks']);
    expect(entryOf(next, 'kubectl')?.time).toBe(T1);
  });

  test('apply never removes fields no Apply entry of this manager owned', () => {
    let live = stored(applyOk(undefined, vm({ cpu: 2 }), 'kubectl', T0));
    live = { ...live, spec: { ...(live.spec as object), runStrategy: 'Always' } }; // a server default, owned by nobody
    live = trackUpdate(live, { ...live, spec: { ...(live.spec as object), memory: '1Gi' } }, { manager: 'resizer', now: T1 });
    const next = applyOk(live, vm({ cpu: 3 }), 'kubectl', T2);
    expect(next.spec).toEqual({ cpu: 3, runStrategy: 'Always', memory: '1Gi' });
  });

  test('a field dropped by one applier stays while another manager still owns it', () => {
    let live = stored(applyOk(undefined, vm({ cpu: 2, memory: '2Gi' }), 'kubectl', T0));
    live = applyOk(live, vm({ memory: '2Gi' }), 'flux', T1);
    live = applyOk(live, vm({ cpu: 2 }), 'kubectl', T2);
    expect(live.spec).toEqual({ cpu: 2, memory: '2Gi' });
    expect(ownedBy(live, 'flux')).toEqual(['.spec.memory']);
    expect(ownedBy(live, 'kubectl')).toEqual(['.spec.cpu']);
  });
});

describe('apply: conflicts', () => {
  function contested(): Obj {
    const live = stored(applyOk(undefined, base, 'kubectl', T0));
    return trackUpdate(live, { ...live, spec: { ...(live.spec as object), cpu: 4 } }, { manager: 'kubectl-client-side-apply', now: T1 });
  }

  test('a field another manager wrote with Update moves to that manager', () => {
    const live = contested();
    expect(ownedBy(live, 'kubectl-client-side-apply', 'Update')).toEqual(['.spec.cpu']);
    expect(ownedBy(live, 'kubectl')).not.toContain('.spec.cpu');
  });

  test('applying a different value to a field another manager owns is a conflict naming manager and path', () => {
    const live = contested();
    const r = apply(live, base, { manager: 'kubectl', now: T2, force: false });
    expect(r.conflicts).toEqual([{ manager: 'kubectl-client-side-apply', field: '.spec.cpu', operation: 'Update', apiVersion: AV }]);
    expect(r.object).toEqual(live);
    expect(formatConflictMessage(r.conflicts)).toBe(
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using stratuslab.eu/v1alpha1: .spec.cpu');
    expect(conflictCauses(r.conflicts)).toEqual([
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using stratuslab.eu/v1alpha1', field: '.spec.cpu' },
    ]);
  });

  test('force takes the field: the value is applied and the other manager loses it', () => {
    const live = contested();
    const r = apply(live, base, { manager: 'kubectl', now: T2, force: true });
    expect(r.conflicts).toEqual([]);
    expect((r.object.spec as Record<string, unknown>).cpu).toBe(2);
    expect(entryOf(r.object, 'kubectl-client-side-apply', 'Update')).toBeUndefined(); // its only field is gone
    expect(ownedBy(r.object, 'kubectl')).toContain('.spec.cpu');
  });

  test('applying the value another manager already set shares the field without conflict', () => {
    const live = contested();
    const r = apply(live, vm({ cpu: 4 }), { manager: 'flux', now: T2, force: false });
    expect(r.conflicts).toEqual([]);
    expect(ownedBy(r.object, 'flux')).toEqual(['.spec.cpu']);
    expect(ownedBy(r.object, 'kubectl-client-side-apply', 'Update')).toEqual(['.spec.cpu']);
  });

  test('several conflicts are listed per manager like Kubernetes', () => {
    let live = stored(applyOk(undefined, vm({ cpu: 2, memory: '2Gi' }, { labels: { app: 'web' } }), 'a', T0));
    live = applyOk(live, vm({ runStrategy: 'Halted' }), 'b', T1);
    const r = apply(live, vm({ cpu: 3, memory: '4Gi', runStrategy: 'Always' }, { labels: { app: 'web' } }), { manager: 'c', now: T2, force: false });
    expect(r.conflicts.map((c) => [c.manager, c.field])).toEqual([['a', '.spec.cpu'], ['a', '.spec.memory'], ['b', '.spec.runStrategy']]);
    expect(formatConflictMessage(r.conflicts)).toBe(
      'Apply failed with 3 conflicts: conflicts with "a":\n- .spec.cpu\n- .spec.memory\nconflicts with "b":\n- .spec.runStrategy');
  });

  test('a manager never conflicts with its own Update entry', () => {
    let live = stored(applyOk(undefined, vm({ cpu: 2 }), 'ctl', T0));
    live = trackUpdate(live, { ...live, spec: { cpu: 3 } }, { manager: 'ctl', now: T1 });
    const r = apply(live, vm({ cpu: 4 }), { manager: 'ctl', now: T2, force: false });
    expect(r.conflicts).toEqual([]);
    expect(r.object.spec).toEqual({ cpu: 4 });
  });
});

describe('apply: maps and lists', () => {
  test('labels are owned per key: two appliers keep both of their labels', () => {
    let live = stored(applyOk(undefined, vm({ cpu: 2 }, { labels: { app: 'web' } }), 'a', T0));
    live = applyOk(live, vm({}, { labels: { tier: 'front' } }), 'b', T1);
    expect(live.metadata?.labels).toEqual({ app: 'web', tier: 'front' });
    expect(ownedBy(live, 'a')).toEqual(['.metadata.labels.app', '.spec.cpu']);
    expect(ownedBy(live, 'b')).toEqual(['.metadata.labels.tier', '.spec']);
    // a re-apply by a without labels removes only a's label
    live = applyOk(live, vm({ cpu: 2 }), 'a', T2);
    expect(live.metadata?.labels).toEqual({ tier: 'front' });
  });

  test('host selector keys are granular too', () => {
    let live = stored(applyOk(undefined, vm({ placement: { hostSelector: { rack: 'r1' } } }), 'a', T0));
    live = applyOk(live, vm({ placement: { hostSelector: { zone: 'z1' } } }), 'b', T1);
    expect(live.spec).toEqual({ placement: { hostSelector: { rack: 'r1', zone: 'z1' } } });
  });

  test('lists are atomic: one field owns the whole list and an apply replaces it whole', () => {
    let live = stored(applyOk(undefined, base, 'kubectl', T0));
    expect(entryOf(live, 'kubectl')?.fieldsV1).toEqual({
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': { 'f:cpu': {}, 'f:disks': {}, 'f:memory': {}, 'f:runStrategy': {} },
    });
    const disks = [{ name: 'root', image: 'debian-12', size: '10Gi' }, { name: 'data', volume: 'web-1-data' }];
    const r = apply(live, vm({ disks }), { manager: 'flux', now: T1, force: false });
    expect(r.conflicts.map((c) => c.field)).toEqual(['.spec.disks']);
    live = apply(live, vm({ disks }), { manager: 'flux', now: T1, force: true }).object;
    expect((live.spec as Record<string, unknown>).disks).toEqual(disks);
    expect(ownedBy(live, 'kubectl')).not.toContain('.spec.disks');
    live = applyOk(live, vm({ disks: [{ name: 'data', volume: 'web-1-data' }] }), 'flux', T2);
    expect((live.spec as Record<string, unknown>).disks).toEqual([{ name: 'data', volume: 'web-1-data' }]);
  });
});

describe('status subresource', () => {
  test('status is owned only through the status subresource and never touched by a main apply', () => {
    let live = stored(applyOk(undefined, base, 'kubectl', T0));
    const statusApply = apply(live, { apiVersion: AV, kind: 'VirtualMachine', metadata: { name: 'web-1', namespace: 'demo' }, spec: { cpu: 64 }, status: { phase: 'Running', host: 'hv-1' } },
      { manager: 'agent', now: T1, force: false, subresource: 'status' });
    expect(statusApply.conflicts).toEqual([]);
    live = statusApply.object;
    expect(live.status).toEqual({ phase: 'Running', host: 'hv-1' });
    expect((live.spec as Record<string, unknown>).cpu).toBe(2);
    expect(entryOf(live, 'agent')).toMatchObject({ subresource: 'status', fieldsV1: { 'f:status': { 'f:host': {}, 'f:phase': {} } } });

    // a main apply carrying status neither changes nor owns it, and keeps the agent's status
    const main = applyOk(live, { ...base, status: { phase: 'Failed' } }, 'kubectl', T2);
    expect(main.status).toEqual({ phase: 'Running', host: 'hv-1' });
    expect(ownedBy(main, 'kubectl').some((p) => p.startsWith('.status'))).toBe(false);
    expect(JSON.stringify(main)).toBe(JSON.stringify(live));
  });

  test('status fields conflict between status managers and name the subresource', () => {
    let live = stored(applyOk(undefined, base, 'kubectl', T0));
    live = trackUpdate(live, { ...live, status: { phase: 'Running' } }, { manager: 'agent', now: T1, subresource: 'status' });
    expect(entryOf(live, 'agent', 'Update')).toMatchObject({ subresource: 'status', fieldsV1: { 'f:status': { 'f:phase': {} } } });
    const r = apply(live, { ...base, status: { phase: 'Failed' } }, { manager: 'health', now: T2, force: false, subresource: 'status' });
    expect(formatConflictMessage(r.conflicts)).toBe(
      'Apply failed with 1 conflict: conflict with "agent" with subresource "status" using stratuslab.eu/v1alpha1: .status.phase');
  });

  test('a main-resource update does not take status fields', () => {
    const live = stored(applyOk(undefined, base, 'kubectl', T0));
    const next = trackUpdate(live, { ...live, spec: { ...(live.spec as object), cpu: 8 }, status: { phase: 'X' } }, { manager: 'edit', now: T1 });
    expect(ownedBy(next, 'edit', 'Update')).toEqual(['.spec.cpu']);
  });

  test('applying status to an object that does not exist is refused', () => {
    expect(() => apply(undefined, { ...base, status: { phase: 'Running' } }, { manager: 'agent', now: T0, force: false, subresource: 'status' })).toThrow();
  });
});

describe('trackUpdate', () => {
  test('a create through POST gives the writer every managed field, not identity nor status', () => {
    const obj = trackUpdate(undefined, stored({ ...base, status: { phase: 'Pending' } }), { manager: 'kubectl-create', now: T0 });
    expect(entries(obj)).toEqual([{
      manager: 'kubectl-create', operation: 'Update', apiVersion: AV, time: T0, fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:cpu': {}, 'f:disks': {}, 'f:memory': {}, 'f:runStrategy': {} } },
    }]);
  });

  test('an update that changes nothing leaves managedFields identical', () => {
    const live = trackUpdate(undefined, stored(base), { manager: 'kubectl-create', now: T0 });
    const same = trackUpdate(live, structuredClone(live), { manager: 'kubectl-edit', now: T1 });
    expect(JSON.stringify(same)).toBe(JSON.stringify(live));
    const noOwnerChange = trackUpdate(live, structuredClone(live), { manager: 'kubectl-create', now: T1 });
    expect(JSON.stringify(noOwnerChange)).toBe(JSON.stringify(live));
  });

  test('removed fields leave every manager; changed fields leave other managers', () => {
    let live = stored(applyOk(undefined, base, 'kubectl', T0));
    live = applyOk(live, vm({ memory: '2Gi' }), 'flux', T1);
    const after = structuredClone(live);
    delete (after.spec as Record<string, unknown>).memory;
    (after.spec as Record<string, unknown>).cpu = 6;
    const next = trackUpdate(live, after, { manager: 'kubectl-patch', now: T2 });
    expect(ownedBy(next, 'flux')).toEqual([]);
    expect(entryOf(next, 'flux')).toBeUndefined();
    expect(ownedBy(next, 'kubectl')).toEqual(['.metadata.labels.app', '.spec.disks', '.spec.runStrategy']);
    expect(ownedBy(next, 'kubectl-patch', 'Update')).toEqual(['.spec.cpu']);
    expect(entryOf(next, 'kubectl')?.time).toBe(T0); // lost fields, but its time is its own
  });

  test('a client can clear managedFields by sending [{}]', () => {
    const live = stored(applyOk(undefined, base, 'kubectl', T0));
    const after = structuredClone(live);
    after.metadata = { ...after.metadata, managedFields: [{}] };
    const next = trackUpdate(live, after, { manager: 'kubectl-patch', now: T1 });
    expect(next.metadata?.managedFields).toBeUndefined();
  });
});

describe('fieldsV1 encoding', () => {
  test('encodes like Kubernetes: f: keys sorted, {} leaves, "." for a member with members below', () => {
    const set = new FieldSet([['spec', 'placement'], ['spec', 'placement', 'policy'], ['metadata', 'labels', 'app'], ['spec', 'cpu']]);
    const encoded = toFieldsV1(set);
    expect(JSON.stringify(encoded)).toBe(
      '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:cpu":{},"f:placement":{".":{},"f:policy":{}}}}');
    expect(fromFieldsV1(encoded).equals(set)).toBe(true);
  });

  test('decodes what a Kubernetes server writes, list items collapsing to the list', () => {
    const k8s = {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} }, 'f:annotations': { 'f:kubectl.kubernetes.io/last-applied-configuration': {} } },
      'f:spec': { 'f:disks': { '.': {}, 'k:{"name":"root"}': { '.': {}, 'f:name': {} } }, 'f:cpu': {} },
    };
    expect(fromFieldsV1(k8s).paths().map(formatPath)).toEqual([
      '.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration',
      '.metadata.labels',
      '.metadata.labels.app',
      '.spec.cpu',
      '.spec.disks',
    ]);
  });

  test('round-trips the field set of an object', () => {
    const set = fieldsOf(base);
    expect(fromFieldsV1(JSON.parse(JSON.stringify(toFieldsV1(set)))).equals(set)).toBe(true);
    expect(set.paths().map(formatPath)).toEqual(['.metadata.labels.app', '.spec.cpu', '.spec.disks', '.spec.memory', '.spec.runStrategy']);
  });

  test('fieldsOf skips identity, server metadata and status; label keys with dots stay one field', () => {
    const obj = stored({ ...vm({ cpu: 1 }, { labels: { 'app.kubernetes.io/name': 'web' }, finalizers: ['x'] }), status: { phase: 'Running' } });
    expect(fieldsOf(obj).paths().map(formatPath)).toEqual(['.metadata.finalizers', '.metadata.labels.app.kubernetes.io/name', '.spec.cpu']);
    expect(fieldsOf(obj, { subresource: 'status' }).paths().map(formatPath)).toEqual(['.status.phase']);
  });

  test('stripManagedFields removes only managedFields and copies', () => {
    const live = stored(applyOk(undefined, base, 'kubectl', T0));
    const stripped = stripManagedFields(live);
    expect(stripped.metadata?.managedFields).toBeUndefined();
    expect(live.metadata?.managedFields).toBeDefined();
    expect(stripped.metadata?.uid).toBe('u-1');
  });
});

describe('apply: the client-side apply upgrade (manager "kubectl", as kube-apiserver)', () => {
  const CSA = 'kubectl-client-side-apply';
  const lastAppliedJson = (manifest: Obj): string => encodeLastApplied(manifest);

  /** What `kubectl apply -f` (client-side) leaves: `live`, with the annotation holding `lastApplied`, every field owned by CSA. */
  function clientSideApplied(lastApplied: Obj | string, live: Obj = typeof lastApplied === 'string' ? base : lastApplied): Obj {
    const annotation = typeof lastApplied === 'string' ? lastApplied : lastAppliedJson(lastApplied);
    const withAnnotation = structuredClone(live);
    withAnnotation.metadata = { ...withAnnotation.metadata, annotations: { ...(withAnnotation.metadata?.annotations ?? {}), [LAST_APPLIED_ANNOTATION]: annotation } };
    return stored(trackUpdate(undefined, withAnnotation, { manager: CSA, now: T0 }));
  }
  const annotationOf = (obj: Obj): unknown => JSON.parse(String(obj.metadata?.annotations?.[LAST_APPLIED_ANNOTATION]));
  const withMemory = (memory: string): Obj => ({ ...base, spec: { ...(base.spec as object), memory } });

  test('changing a field kubectl last applied takes it over without conflict (kubectl apply, then apply --server-side)', () => {
    const live = clientSideApplied(base);
    const r = apply(live, withMemory('4Gi'), { manager: 'kubectl', now: T1, force: false });
    expect(r.conflicts).toEqual([]);
    expect((r.object.spec as Record<string, unknown>).memory).toBe('4Gi');
    expect(ownedBy(r.object, 'kubectl')).toEqual(['.metadata.labels.app', '.spec.cpu', '.spec.disks', '.spec.memory', '.spec.runStrategy']);
    // the unchanged fields are shared; only the taken one left the client-side entry
    expect(ownedBy(r.object, CSA, 'Update')).toEqual([
      `.metadata.annotations.${LAST_APPLIED_ANNOTATION}`, '.metadata.labels.app', '.spec.cpu', '.spec.disks', '.spec.runStrategy']);
  });

  test('only fields the annotation still describes are taken: changed, added-since and unknown fields still conflict, alone', () => {
    // kubectl last applied cpu 2 / memory 2Gi / label app; since then someone set cpu 4 and label tier (still owned by CSA here)
    const live = clientSideApplied(base, vm({ ...(base.spec as object), cpu: 4 }, { labels: { app: 'web', tier: 'front' } }));
    const manifest = vm({ ...(base.spec as object), cpu: 8, memory: '4Gi' }, { labels: { app: 'shop', tier: 'back' } });
    const r = apply(live, manifest, { manager: 'kubectl', now: T1, force: false });
    expect(r.conflicts.map((c) => [c.manager, c.field])).toEqual([[CSA, '.metadata.labels.tier'], [CSA, '.spec.cpu']]);
    expect(formatConflictMessage(r.conflicts)).toBe(
      `Apply failed with 2 conflicts: conflicts with "${CSA}" using ${AV}:\n- .metadata.labels.tier\n- .spec.cpu`);
    expect(r.object).toEqual(live); // nothing applied, the annotation untouched
    // force still resolves all of them
    const forced = apply(live, manifest, { manager: 'kubectl', now: T1, force: true });
    expect(forced.conflicts).toEqual([]);
    expect(forced.object.spec).toMatchObject({ cpu: 8, memory: '4Gi' });
    expect(forced.object.metadata?.labels).toEqual({ app: 'shop', tier: 'back' });
  });

  test('fields taken over from any owner, not only the client-side manager, as long as their value is the annotation\'s', () => {
    const live = clientSideApplied(base);
    const edited = trackUpdate(live, { ...live, spec: { ...(live.spec as object), memory: '3Gi' } }, { manager: 'kubectl-edit', now: T1 });
    const r = apply(edited, withMemory('4Gi'), { manager: 'kubectl', now: T2, force: false });
    expect(r.conflicts).toEqual([{ manager: 'kubectl-edit', field: '.spec.memory', operation: 'Update', apiVersion: AV }]);
    const back = trackUpdate(edited, { ...edited, spec: { ...(edited.spec as object), memory: '2Gi' } }, { manager: 'kubectl-edit', now: T2 });
    const ok = apply(back, withMemory('4Gi'), { manager: 'kubectl', now: T3, force: false });
    expect(ok.conflicts).toEqual([]);
    expect(entryOf(ok.object, 'kubectl-edit', 'Update')).toBeUndefined();
    expect(ownedBy(ok.object, 'kubectl')).toContain('.spec.memory');
  });

  test('managers other than "kubectl" are unaffected: they conflict and leave the annotation alone', () => {
    const live = clientSideApplied(base);
    const r = apply(live, withMemory('4Gi'), { manager: 'flux', now: T1, force: false });
    expect(r.conflicts).toEqual([{ manager: CSA, field: '.spec.memory', operation: 'Update', apiVersion: AV }]);
    const shared = apply(live, { ...withMemory('2Gi'), spec: { ...(base.spec as object), cpu: 2 } }, { manager: 'flux', now: T1, force: false });
    expect(shared.conflicts).toEqual([]);
    expect(shared.object.metadata?.annotations).toEqual(live.metadata?.annotations);
    const forced = apply(live, withMemory('4Gi'), { manager: 'flux', now: T1, force: true });
    expect(forced.object.metadata?.annotations).toEqual(live.metadata?.annotations);
  });

  test.each([
    ['no annotation', undefined],
    ['an empty annotation', ''],
    ['an annotation that is not JSON', '{"apiVersion":'],
    ['an annotation that is not an object', '[1]'],
    ['an annotation written for another apiVersion', JSON.stringify({ ...base, apiVersion: 'stratuslab.eu/v1beta1' })],
  ])('with %s the field still conflicts', (_name, annotation) => {
    const live = annotation === undefined ? stored(trackUpdate(undefined, base, { manager: CSA, now: T0 })) : clientSideApplied(annotation);
    const r = apply(live, withMemory('4Gi'), { manager: 'kubectl', now: T1, force: false });
    expect(r.conflicts.map((c) => c.field)).toEqual(['.spec.memory']);
  });

  test('the status subresource never upgrades', () => {
    const live = clientSideApplied(base);
    const withStatus = trackUpdate(live, { ...live, status: { phase: 'Running' } }, { manager: CSA, now: T1, subresource: 'status' });
    const r = apply(withStatus, { ...base, status: { phase: 'Failed' } }, { manager: 'kubectl', now: T2, force: false, subresource: 'status' });
    expect(r.conflicts.map((c) => c.field)).toEqual(['.status.phase']);
  });

  test('server defaults inside an atomic list do not make it differ from the annotation when the defaulter is passed', () => {
    const defaults = (o: Obj): Obj => {
      const out = structuredClone(o);
      const spec = out.spec as { disks?: Record<string, unknown>[] };
      for (const d of spec.disks ?? []) d.bus ??= 'virtio';
      return out;
    };
    const live = clientSideApplied(base, defaults(base));
    const manifest: Obj = { ...base, spec: { ...(base.spec as object), disks: [{ name: 'root', image: 'debian-12', size: '20Gi' }] } };
    expect(apply(live, manifest, { manager: 'kubectl', now: T1, force: false }).conflicts.map((c) => c.field)).toEqual(['.spec.disks']);
    const r = apply(live, manifest, { manager: 'kubectl', now: T1, force: false, defaults });
    expect(r.conflicts).toEqual([]);
    expect((r.object.spec as { disks: unknown[] }).disks).toEqual([{ name: 'root', image: 'debian-12', size: '20Gi', bus: 'virtio' }]);
  });

  test('applying as "kubectl" keeps the annotation up to date with the applied manifest, and never adds one', () => {
    const live = clientSideApplied(base);
    const manifest = withMemory('4Gi');
    const r = apply(live, manifest, { manager: 'kubectl', now: T1, force: false });
    expect(annotationOf(r.object)).toEqual(manifest);
    expect(r.object.metadata?.annotations?.[LAST_APPLIED_ANNOTATION]).toBe(encodeLastApplied(manifest));
    // re-applying the same manifest changes nothing at all
    expect(apply(stored(r.object), manifest, { manager: 'kubectl', now: T2, force: false }).object).toEqual(stored(r.object));
    // an object never applied client-side gets no annotation, on create or update
    const created = applyOk(undefined, base, 'kubectl', T0);
    expect(created.metadata?.annotations).toBeUndefined();
    expect(applyOk(stored(created), manifest, 'kubectl', T1).metadata?.annotations).toBeUndefined();
  });

  test('the annotation is encoded as Kubernetes encodes it: sorted keys, HTML characters escaped, a final newline, without itself', () => {
    const manifest = vm({ cpu: 1, memory: '1Gi' }, { annotations: { note: '<a & b>', [LAST_APPLIED_ANNOTATION]: 'old' } });
    expect(encodeLastApplied(manifest)).toBe(
      `{"apiVersion":"${AV}","kind":"VirtualMachine","metadata":{"annotations":{"note":"\\u003ca \\u0026 b\\u003e"},"name":"web-1","namespace":"demo"},"spec":{"cpu":1,"memory":"1Gi"}}\n`);
    expect(JSON.parse(encodeLastApplied(manifest)).metadata.annotations.note).toBe('<a & b>');
  });

  test('an annotation that would push the annotations over 256 KiB is dropped, as Kubernetes drops it', () => {
    const big = 'x'.repeat(200 * 1024);
    const withBig = vm(base.spec as Record<string, unknown>, { labels: { app: 'web' }, annotations: { big } });
    const live = clientSideApplied({ ...base, metadata: { ...base.metadata, annotations: {} } }, withBig);
    const r = apply(live, { ...withBig, spec: { ...(base.spec as object), cpu: 3 } }, { manager: 'kubectl', now: T1, force: false });
    expect(r.conflicts).toEqual([]);
    expect(r.object.metadata?.annotations).toEqual({ big });
  });
});
