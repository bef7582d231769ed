// Schemas, validation (defaults, unknown fields, field paths, names), the dereferenced schemas,
// printer rows, and that every manifest under examples/ validates.

import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { INTERNAL_KINDS, KINDS, kindByKind, resolveKind, type KindInfo } from '../../schemas/kinds';
import { UnknownKindError, Validator, formatCause } from '../../schemas/validate';
import { evaluateColumnPath, humanDuration, printRow } from '../../kube/printer';

const validator = new Validator();

function vm(spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): Record<string, any> {
  return {
    apiVersion: 'stratuslab.eu/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web-1', namespace: 'demo', ...metadata },
    spec: { cpu: 2, memory: '2Gi', ...spec },
  };
}

function host(spec?: Record<string, unknown>, status?: Record<string, unknown>): Record<string, any> {
  return {
    apiVersion: 'stratuslab.eu/v1alpha1',
    kind: 'Host',
    metadata: { name: 'hv-1', labels: { rack: 'r1' } },
    ...(spec ? { spec } : {}),
    ...(status ? { status } : {}),
  };
}

function fields(r: { causes: { field: string }[] }): string[] {
  return r.causes.map((c) => c.field);
}

describe('defaults', () => {
  test('a minimal VM gets runStrategy Always and one virtio NIC on the default network', () => {
    const r = validator.validate('VirtualMachine', vm());
    expect(r.causes).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.object.spec.runStrategy).toBe('Always');
    expect(r.object.spec.networks).toEqual([{ name: 'default' }]);
  });

  // Items of lists get no stored defaults (absent means the documented default): a default inside
  // an atomic list would make every client-side `kubectl apply` see a difference and patch again.
  test('list items keep what the user wrote: no stored defaults inside disks, affinity terms, tolerations', () => {
    const r = validator.validate(
      'vm',
      vm({
        disks: [{ name: 'root', image: 'debian-12' }],
        placement: { antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } } }], tolerations: [{ key: 'maintenance' }] },
      }),
    );
    expect(r.ok).toBe(true);
    expect(r.object.spec.disks[0]).toEqual({ name: 'root', image: 'debian-12' });
    expect(r.object.spec.placement.antiAffinity[0]).toEqual({ labelSelector: { matchLabels: { app: 'web' } } });
    expect(r.object.spec.placement.tolerations[0]).toEqual({ key: 'maintenance' });
  });

  test('a Host without spec gets unschedulable false and overcommit cpu 4, memory 1, storage 1', () => {
    const r = validator.validate('Host', host());
    expect(r.ok).toBe(true);
    expect(r.object.spec).toEqual({ unschedulable: false, overcommit: { cpu: 4, memory: 1, storage: 1 } });
  });

  test('a partial overcommit keeps the given ratio and defaults the others', () => {
    const r = validator.validate('Host', host({ overcommit: { cpu: 8 } }));
    expect(r.object.spec.overcommit).toEqual({ cpu: 8, memory: 1, storage: 1 });
  });

  test('a Volume defaults to the default pool and an Image to qcow2', () => {
    const vol = validator.validate('Volume', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'd', namespace: 'demo' }, spec: { size: '1Gi' } });
    expect(vol.object.spec.pool).toBe('default');
    const img = validator.validate('Image', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'i', namespace: 'demo' }, spec: { source: { path: '/var/lib/images/i.qcow2' } } });
    expect(img.ok).toBe(true);
    expect(img.object.spec.format).toBe('qcow2');
  });

  test('validation never mutates its input, even when it applies defaults or removes fields', () => {
    const input = vm({ bogus: true, disks: [{ name: 'root', image: 'debian-12', foo: 1 }] });
    const before = structuredClone(input);
    const r = validator.validate('VirtualMachine', input, { fieldValidation: 'Warn' });
    expect(input).toEqual(before);
    expect(r.object).not.toBe(input);
    expect(r.object.spec.bogus).toBeUndefined();
    expect(r.object.spec.runStrategy).toBe('Always');
  });
});

describe('errors name the field', () => {
  test('a wrong type is FieldValueInvalid at spec.cpu with the value and the expected type', () => {
    const r = validator.validate('VirtualMachine', vm({ cpu: 'two' }));
    expect(r.ok).toBe(false);
    expect(r.causes).toEqual([{ field: 'spec.cpu', reason: 'FieldValueInvalid', message: 'Invalid value: "two": must be integer' }]);
    expect(formatCause(r.causes[0])).toBe('spec.cpu: Invalid value: "two": must be integer');
  });

  test('a missing required field is FieldValueRequired', () => {
    const input = vm();
    delete input.spec.memory;
    const r = validator.validate('VirtualMachine', input);
    expect(r.causes).toEqual([{ field: 'spec.memory', reason: 'FieldValueRequired', message: 'Required value' }]);
    expect(formatCause(r.causes[0])).toBe('spec.memory: Required value');
  });

  test('a value outside an enum is FieldValueNotSupported and lists the supported values', () => {
    const r = validator.validate('VirtualMachine', vm({ runStrategy: 'Sometimes' }));
    expect(r.causes).toHaveLength(1);
    expect(r.causes[0].reason).toBe('FieldValueNotSupported');
    expect(r.causes[0].message).toBe('Unsupported value: "Sometimes": supported values: "Always", "RerunOnFailure", "Halted", "Manual"');
  });

  test('cpu outside 1..256 is rejected with the bound', () => {
    expect(validator.validate('VirtualMachine', vm({ cpu: 512 })).causes[0].message).toBe('Invalid value: 512: must be less than or equal to 256');
    expect(validator.validate('VirtualMachine', vm({ cpu: 0 })).causes[0].field).toBe('spec.cpu');
  });

  test('a malformed quantity is rejected with a quantity hint; integers are quantities too', () => {
    const r = validator.validate('VirtualMachine', vm({ memory: '2 GB' }));
    expect(r.causes).toHaveLength(1);
    expect(r.causes[0].field).toBe('spec.memory');
    expect(r.causes[0].message).toMatch(/^Invalid value: "2 GB": must be a quantity/);
    for (const ok of ['2Gi', '512Mi', '10G', '1.5Gi', '100m', '1e3', 1073741824]) {
      expect(validator.validate('VirtualMachine', vm({ memory: ok })).causes).toEqual([]);
    }
    for (const bad of ['-1Gi', '2GB', 'Gi', '', -5, 1.5, true]) {
      expect(fields(validator.validate('VirtualMachine', vm({ memory: bad })))).toEqual(['spec.memory']);
    }
  });

  test('a quantity that overflows or is above 8Pi is refused with one cause naming the field, wherever quantities are', () => {
    const r = validator.validate('VirtualMachine', vm({ memory: '1e1000', disks: [{ name: 'd', size: '1e309' }] }));
    expect(r.causes.map(formatCause)).toEqual([
      'spec.memory: Invalid value: "1e1000": must be less than or equal to 8Pi (9007199254740992)',
      'spec.disks[0].size: Invalid value: "1e309": must be less than or equal to 8Pi (9007199254740992)',
    ]);
    for (const bad of ['9Pi', '1Ei', '1E', 2 ** 60]) {
      expect(validator.validate('VirtualMachine', vm({ memory: bad })).causes.map((c) => c.field)).toEqual(['spec.memory']);
    }
    expect(validator.validate('Volume', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'v', namespace: 'p' }, spec: { size: '1e309' } }).causes.map(formatCause))
      .toEqual(['spec.size: Invalid value: "1e309": must be less than or equal to 8Pi (9007199254740992)']);
    expect(validator.validate('Project', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'p' }, spec: { quota: { memory: '1e1000' } } }).causes.map((c) => c.field))
      .toEqual(['spec.quota.memory']);
    expect(validator.validate('VirtualMachine', vm({ memory: '8Pi' })).causes).toEqual([]);
  });

  test('errors deep in lists carry indices: spec.disks[1].bus', () => {
    const r = validator.validate('VirtualMachine', vm({ disks: [{ name: 'root', image: 'debian-12' }, { name: 'data', volume: 'v', bus: 'ide' }] }));
    expect(fields(r)).toEqual(['spec.disks[1].bus']);
  });

  test('a disk with both image and volume is rejected naming spec.disks[0]', () => {
    const r = validator.validate('VirtualMachine', vm({ disks: [{ name: 'root', image: 'debian-12', volume: 'web-1-data' }] }));
    expect(r.causes).toHaveLength(1);
    expect(r.causes[0].field).toBe('spec.disks[0]');
    expect(r.causes[0].reason).toBe('FieldValueForbidden');
    expect(r.causes[0].message).toMatch(/^Forbidden: image and volume are mutually exclusive/);
  });

  test('a blank disk needs a size, and a Volume disk may not have one', () => {
    const blank = validator.validate('VirtualMachine', vm({ disks: [{ name: 'scratch' }] }));
    expect(blank.causes).toEqual([
      { field: 'spec.disks[0].size', reason: 'FieldValueRequired', message: 'Required value: a disk with neither image nor volume is blank and needs a size' },
    ]);
    expect(validator.validate('VirtualMachine', vm({ disks: [{ name: 'scratch', size: '5Gi' }] })).ok).toBe(true);
    const sized = validator.validate('VirtualMachine', vm({ disks: [{ name: 'data', volume: 'v', size: '5Gi' }] }));
    expect(sized.causes.map((c) => [c.field, c.reason])).toEqual([['spec.disks[0].size', 'FieldValueForbidden']]);
  });

  test('two disks with the same name are FieldValueDuplicate at the second one', () => {
    const r = validator.validate('VirtualMachine', vm({ disks: [{ name: 'root', image: 'debian-12' }, { name: 'root', volume: 'v' }] }));
    expect(r.causes).toEqual([{ field: 'spec.disks[1].name', reason: 'FieldValueDuplicate', message: 'Duplicate value: "root"' }]);
    expect(formatCause(r.causes[0])).toBe('spec.disks[1].name: Duplicate value: "root"');
  });

  test('two conditions of the same type are rejected', () => {
    const r = validator.validate('VirtualMachine', { ...vm(), status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Ready', status: 'False' }] } });
    expect(fields(r)).toEqual(['status.conditions[1].type']);
  });

  test('several errors are all reported', () => {
    const r = validator.validate('VirtualMachine', vm({ cpu: 'two', memory: 'lots', runStrategy: 'Sometimes' }));
    expect(fields(r).sort()).toEqual(['spec.cpu', 'spec.memory', 'spec.runStrategy']);
  });

  test('a wrong kind or apiVersion is FieldValueNotSupported', () => {
    const r = validator.validate('VirtualMachine', { ...vm(), kind: 'Volume', apiVersion: 'v1' });
    expect(r.causes.map((c) => [c.field, c.reason]).sort()).toEqual([
      ['apiVersion', 'FieldValueNotSupported'],
      ['kind', 'FieldValueNotSupported'],
    ]);
  });

  test('map values are reported with the key in brackets', () => {
    const r = validator.validate('VirtualMachine', vm({ placement: { hostSelector: { rack: 'r 1' } } }));
    expect(fields(r)).toEqual(['spec.placement.hostSelector[rack]']);
  });

  test('an image source must name exactly one of url, path or volume', () => {
    const base = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'i', namespace: 'demo' } };
    const two = validator.validate('Image', { ...base, spec: { source: { url: 'https://example.org/a.qcow2', path: '/a.qcow2' } } });
    expect(two.causes).toHaveLength(1);
    expect(two.causes[0].message).toMatch(/^Invalid value: .*: exactly one of url, path or volume must be set$/);
    const none = validator.validate('Image', { ...base, spec: {} });
    expect(fields(none)).toEqual(['spec.source']);
    const kernelOnly = validator.validate('Image', { ...base, spec: { kernel: '/boot/vmlinuz', initrd: '/boot/initrd.img' } });
    expect(kernelOnly.ok).toBe(true);
    const initrdOnly = validator.validate('Image', { ...base, spec: { source: { path: '/a' }, initrd: '/boot/initrd.img' } });
    expect(initrdOnly.causes.map((c) => [c.field, c.reason])).toEqual([['spec.kernel', 'FieldValueRequired']]);
  });

  test('an image source may carry a sha256 beside its one url, path or volume: 64 lowercase hex digits', () => {
    const base = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'i', namespace: 'demo' } };
    const img = (source: Record<string, string>) => validator.validate('Image', { ...base, spec: { source } });
    expect(img({ path: '/a', sha256: 'a'.repeat(64) }).ok).toBe(true);
    expect(img({ url: 'https://example.org/a.qcow2', sha256: '0123456789abcdef'.repeat(4) }).ok).toBe(true);
    for (const bad of ['A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(64)}0`, 'sha256:' + 'a'.repeat(64)]) {
      expect(img({ path: '/a', sha256: bad }).causes).toEqual([{ field: 'spec.source.sha256', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(bad)}: must be a SHA-256 sum: 64 lowercase hexadecimal digits` }]);
    }
    for (const source of [{ sha256: 'a'.repeat(64) }, { path: '/a', url: 'https://example.org/a', sha256: 'a'.repeat(64) }] as Record<string, string>[]) {
      const r = img(source);
      expect(r.causes.map((c) => c.field)).toEqual(['spec.source']);
      expect(r.causes[0].message).toMatch(/exactly one of url, path or volume must be set$/);
    }
  });

  test('a project member names a user or a group, not both', () => {
    const project = (members: unknown[]) => ({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'p' }, spec: { members } });
    expect(validator.validate('Project', project([{ user: 'a', role: 'admin' }, { group: 'g', role: 'viewer' }])).ok).toBe(true);
    expect(fields(validator.validate('Project', project([{ user: 'a', group: 'g', role: 'admin' }])))).toEqual(['spec.members[0]']);
    expect(fields(validator.validate('Project', project([{ role: 'admin' }])))).toEqual(['spec.members[0].user']);
    expect(fields(validator.validate('Project', project([{ user: 'a', role: 'owner' }])))).toEqual(['spec.members[0].role']);
  });

  test('label selector operators In/NotIn need values, Exists/DoesNotExist take none', () => {
    const sel = (e: unknown) => vm({ placement: { affinity: [{ labelSelector: { matchExpressions: [e] } }] } });
    expect(validator.validate('vm', sel({ key: 'app', operator: 'In', values: ['web'] })).ok).toBe(true);
    expect(validator.validate('vm', sel({ key: 'app', operator: 'Exists' })).ok).toBe(true);
    expect(fields(validator.validate('vm', sel({ key: 'app', operator: 'In' })))).toEqual(['spec.placement.affinity[0].labelSelector.matchExpressions[0].values']);
    expect(fields(validator.validate('vm', sel({ key: 'app', operator: 'Exists', values: ['x'] })))).toEqual([
      'spec.placement.affinity[0].labelSelector.matchExpressions[0].values',
    ]);
  });

  test('non-object input is rejected with a cause for the whole object', () => {
    for (const bad of ['a string', 42, null, [vm()]]) {
      const r = validator.validate('VirtualMachine', bad);
      expect(r.ok).toBe(false);
      expect(r.causes).toHaveLength(1);
      expect(r.causes[0].field).toBe('');
      expect(r.causes[0].message).toMatch(/must be a JSON object/);
      expect(formatCause(r.causes[0])).toBe(r.causes[0].message);
    }
  });

  test('an unknown kind is a caller bug: UnknownKindError', () => {
    expect(() => validator.validate('Pod', {})).toThrow(UnknownKindError);
    expect(() => validator.schemaOf('Pod')).toThrow(expect.objectContaining({ code: 'UnknownKind' }));
  });
});

describe('names and labels', () => {
  test.each([
    ['uppercase', 'Web-1'],
    ['underscore', 'web_1'],
    ['leading dash', '-web'],
    ['trailing dash', 'web-'],
    ['dot', 'web.1'],
    ['empty', ''],
  ])('a name with %s is rejected at metadata.name', (_why, name) => {
    const r = validator.validate('VirtualMachine', vm({}, { name }));
    expect(r.causes).toHaveLength(1);
    expect(r.causes[0].field).toBe('metadata.name');
    expect(r.causes[0].reason).toBe('FieldValueInvalid');
    expect(r.causes[0].message).toMatch(/RFC 1123 label/);
  });

  test('a name longer than 63 characters is FieldValueTooLong', () => {
    const r = validator.validate('VirtualMachine', vm({}, { name: 'a'.repeat(64) }));
    expect(r.causes).toEqual([{ field: 'metadata.name', reason: 'FieldValueTooLong', message: 'Too long: may not be more than 63 bytes' }]);
    expect(validator.validate('VirtualMachine', vm({}, { name: 'a'.repeat(63) })).ok).toBe(true);
  });

  test('a bad namespace is rejected like a bad name', () => {
    expect(fields(validator.validate('VirtualMachine', vm({}, { namespace: 'Demo' })))).toEqual(['metadata.namespace']);
  });

  test('name is required unless generateName is set', () => {
    const noName = vm();
    delete noName.metadata.name;
    expect(fields(validator.validate('VirtualMachine', noName))).toEqual(['metadata.name']);
    expect(validator.validate('VirtualMachine', { ...noName, metadata: { ...noName.metadata, generateName: 'web-' } }).ok).toBe(true);
  });

  test('label keys and values follow the Kubernetes syntax', () => {
    const ok = { app: 'web', 'stratuslab.eu/rack': 'r1', 'a.b-c_d': '', 'x': 'A.b_c-9' };
    expect(validator.validate('VirtualMachine', vm({}, { labels: ok })).causes).toEqual([]);
    const badKey = validator.validate('VirtualMachine', vm({}, { labels: { 'bad key': 'x' } }));
    expect(badKey.causes).toHaveLength(1);
    expect(badKey.causes[0].field).toBe('metadata.labels');
    expect(badKey.causes[0].message).toMatch(/^Invalid value: "bad key": /);
    expect(formatCause(badKey.causes[0])).toMatch(/^metadata\.labels: Invalid value: "bad key": /);
    expect(fields(validator.validate('VirtualMachine', vm({}, { labels: { ['k'.repeat(64)]: 'x' } })))).toEqual(['metadata.labels']);
    expect(fields(validator.validate('VirtualMachine', vm({}, { labels: { 'Bad_Prefix/app': 'x' } })))).toEqual(['metadata.labels']);
    expect(fields(validator.validate('VirtualMachine', vm({}, { labels: { app: '-web' } })))).toEqual(['metadata.labels[app]']);
    expect(fields(validator.validate('VirtualMachine', vm({}, { labels: { app: 'v'.repeat(64) } })))).toEqual(['metadata.labels[app]']);
    expect(fields(validator.validate('VirtualMachine', vm({}, { labels: { app: 3 } })))).toEqual(['metadata.labels[app]']);
  });

  test('timestamps must be RFC 3339', () => {
    const r = validator.validate('VirtualMachine', vm({}, { creationTimestamp: 'yesterday' }));
    expect(r.causes[0].message).toBe('Invalid value: "yesterday": must be an RFC 3339 date-time, e.g. 2024-05-01T12:00:00Z');
    expect(validator.validate('VirtualMachine', vm({}, { creationTimestamp: '2024-05-01T12:00:00Z' })).ok).toBe(true);
  });

  test('server-set metadata, managedFields and ownerReferences are accepted', () => {
    const r = validator.validate(
      'VirtualMachine',
      vm({}, {
        uid: '5f1c', resourceVersion: '42', generation: 3, finalizers: ['stratuslab.eu/domain'],
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
        managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:cpu': {} } }, somethingNew: 1 }],
        ownerReferences: [{ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', name: 'demo', uid: 'u' }],
      }),
    );
    expect(r.causes).toEqual([]);
  });
});

describe('unknown fields', () => {
  const withUnknown = () => ({ ...vm({ bogus: 1, disks: [{ name: 'root', image: 'debian-12', foo: 'bar' }] }, { color: 'red' }), extra: true });

  test('Strict (the default) rejects them as UnknownField errors, Kubernetes-style', () => {
    const r = validator.validate('VirtualMachine', withUnknown());
    expect(r.ok).toBe(false);
    expect(r.unknownFields.sort()).toEqual(['extra', 'metadata.color', 'spec.bogus', 'spec.disks[0].foo']);
    expect(r.causes).toContainEqual({ field: 'spec.bogus', reason: 'UnknownField', message: 'unknown field "spec.bogus"' });
    expect(r.causes).toContainEqual({ field: 'spec.disks[0].foo', reason: 'UnknownField', message: 'unknown field "spec.disks[0].foo"' });
    expect(r.causes.every((c) => c.reason === 'UnknownField')).toBe(true);
    expect(formatCause(r.causes[0])).toMatch(/^[a-z.[\]0-9]+: unknown field "/);
  });

  test('Warn removes them and reports them, without errors', () => {
    const r = validator.validate('VirtualMachine', withUnknown(), { fieldValidation: 'Warn' });
    expect(r.ok).toBe(true);
    expect(r.causes).toEqual([]);
    expect(r.unknownFields.sort()).toEqual(['extra', 'metadata.color', 'spec.bogus', 'spec.disks[0].foo']);
    expect(r.object.extra).toBeUndefined();
    expect(r.object.metadata.color).toBeUndefined();
    expect(r.object.spec.bogus).toBeUndefined();
    expect(r.object.spec.disks[0]).toEqual({ name: 'root', image: 'debian-12' });
  });

  test('Ignore removes them too; real errors are still errors', () => {
    const r = validator.validate('VirtualMachine', vm({ bogus: 1, cpu: 'two' }), { fieldValidation: 'Ignore' });
    expect(r.object.spec.bogus).toBeUndefined();
    expect(r.unknownFields).toEqual(['spec.bogus']);
    expect(fields(r)).toEqual(['spec.cpu']);
  });
});

describe('status-only validation (the status subresource)', () => {
  test('validates only status, with paths under status.', () => {
    const input = { ...vm({ cpu: 'not checked here' }), status: { phase: 'Exploded', host: 'hv-1' } };
    const r = validator.validate('VirtualMachine', input, { part: 'status' });
    expect(r.causes).toEqual([
      {
        field: 'status.phase',
        reason: 'FieldValueNotSupported',
        message: 'Unsupported value: "Exploded": supported values: "Pending", "Scheduled", "Starting", "Running", "Stopped", "Failed", "Terminating"',
      },
    ]);
  });

  test('accepts a valid status and returns the whole object', () => {
    const status = {
      phase: 'Running', host: 'hv-1', observedGeneration: 3, domainUUID: '0b5e', startTime: '2024-05-01T12:00:00Z',
      conditions: [{ type: 'Scheduled', status: 'True' }, { type: 'Ready', status: 'True', reason: 'DomainRunning', lastTransitionTime: '2024-05-01T12:00:05Z' }],
    };
    const r = validator.validate('VirtualMachine', { ...vm(), status }, { part: 'status' });
    expect(r.ok).toBe(true);
    expect(r.object.status).toEqual(status);
    expect(r.object.spec.runStrategy).toBeUndefined(); // spec is not validated, so not defaulted
  });

  test('unknown status fields follow the field validation mode', () => {
    const input = { ...vm(), status: { phase: 'Running', mood: 'happy' } };
    expect(validator.validate('VirtualMachine', input, { part: 'status' }).causes).toEqual([
      { field: 'status.mood', reason: 'UnknownField', message: 'unknown field "status.mood"' },
    ]);
    const warn = validator.validate('VirtualMachine', input, { part: 'status', fieldValidation: 'Warn' });
    expect(warn.ok).toBe(true);
    expect(warn.unknownFields).toEqual(['status.mood']);
    expect(warn.object.status).toEqual({ phase: 'Running' });
  });

  test('host status with quantities validates; a bad quantity names the field', () => {
    const good = host(undefined, { capacity: { cpu: 8, memory: '32Gi', storage: '1Ti' }, allocated: { cpu: '1500m', memory: '4Gi' } });
    expect(validator.validate('Host', good, { part: 'status' }).ok).toBe(true);
    const bad = host(undefined, { capacity: { cpu: 'eight' } });
    expect(fields(validator.validate('Host', bad, { part: 'status' }))).toEqual(['status.capacity.cpu']);
  });

  test('an object without status is valid for a status write', () => {
    expect(validator.validate('VirtualMachine', vm(), { part: 'status' }).ok).toBe(true);
  });
});

describe('the schemas package', () => {
  test('its index exports the registry, the validator and quantities', async () => {
    const index = await import('../../schemas');
    expect(index.KINDS).toBe(KINDS);
    expect(new index.Validator().validate('proj', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' } }).object.spec).toEqual({});
    expect(index.parseQuantity('1Ki')).toBe(1024);
  });
});

describe('schemaOf', () => {
  test('returns the whole object schema with every $ref inlined', () => {
    for (const k of KINDS) {
      const s = validator.schemaOf(k.kind) as Record<string, any>;
      expect(JSON.stringify(s)).not.toContain('$ref');
      expect(s.properties.kind.const).toBe(k.kind);
      expect(s.properties.metadata.properties.name.pattern).toBe('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$');
    }
    const s = validator.schemaOf('vm') as Record<string, any>;
    expect(s.properties.spec.properties.memory.type).toEqual(['string', 'integer']);
    expect(s.properties.spec.properties.memory.description).toBe('Guest memory, e.g. 2Gi.');
    expect(s.properties.spec.properties.disks['x-kubernetes-list-map-keys']).toEqual(['name']);
  });

  test('every property of every kind has a description (kubectl explain reads them)', () => {
    const missing: string[] = [];
    const walk = (node: any, at: string): void => {
      if (!node || typeof node !== 'object') return;
      for (const [name, prop] of Object.entries<any>(node.properties ?? {})) {
        if (typeof prop.description !== 'string' || prop.description === '') missing.push(`${at}.${name}`);
        walk(prop, `${at}.${name}`);
      }
      if (node.items) walk(node.items, `${at}[]`);
      if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${at}{}`);
    };
    for (const k of KINDS) walk(validator.schemaOf(k.kind), k.kind);
    expect(missing).toEqual([]);
  });

  test('returns a copy the caller may change', () => {
    const s = validator.schemaOf('Volume') as Record<string, any>;
    s.properties.spec = 'changed';
    expect((validator.schemaOf('Volume') as Record<string, any>).properties.spec).not.toBe('changed');
  });

  test('the schema folder has one schema per kind', () => {
    for (const k of KINDS) expect(fs.existsSync(path.join(__dirname, '..', '..', 'schemas', k.schemaFile))).toBe(true);
  });

  test('every kind schema is registered, served or internal, and has its entry in the generated KindTypes', () => {
    const dir = path.join(__dirname, '..', '..', 'schemas');
    const kindFiles = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).filter((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).properties?.kind?.const);
    const registered = [...KINDS, ...INTERNAL_KINDS];
    expect(registered.map((k) => k.schemaFile).sort()).toEqual(kindFiles.sort());
    const generated = fs.readFileSync(path.join(dir, 'types.gen.ts'), 'utf8');
    const map = generated.slice(generated.indexOf('export type KindTypes = {'));
    for (const k of registered) expect(map).toContain(`  ${k.kind}: ${k.kind};`);
  });
});

describe('examples', () => {
  const root = path.join(__dirname, '..', '..', 'examples');
  const files: string[] = [];
  const collect = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) collect(p);
      else if (/\.ya?ml$/.test(entry.name)) files.push(p);
    }
  };
  collect(root);

  test('the examples folder has the documented manifests', () => {
    const rel = files.map((f) => path.relative(root, f));
    expect(rel).toEqual(expect.arrayContaining(['project.yaml', 'image.yaml', 'volume.yaml', 'vm.yaml', 'app/web.yaml', 'app/db.yaml']));
  });

  test.each(files.map((f) => [path.relative(root, f), f]))('every document in %s validates strictly', (_rel, file) => {
    const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(doc.errors).toEqual([]);
      const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } };
      const info = resolveKind(String(obj.kind));
      expect(info).toBeDefined();
      const r = validator.validate(String(obj.kind), obj, { fieldValidation: 'Strict' });
      expect({ name: obj.metadata?.name, causes: r.causes }).toEqual({ name: obj.metadata?.name, causes: [] });
    }
  });

  test('the example VM uses the example image and volume in the example project', () => {
    const load = (f: string) => parseAllDocuments(fs.readFileSync(path.join(root, f), 'utf8')).map((d) => d.toJS());
    const [project] = load('project.yaml');
    const [image] = load('image.yaml');
    const [volume] = load('volume.yaml');
    const [machine] = load('vm.yaml');
    expect([image.metadata.namespace, volume.metadata.namespace, machine.metadata.namespace]).toEqual([project.metadata.name, project.metadata.name, project.metadata.name]);
    expect(machine.spec.disks.map((d: any) => d.image ?? d.volume)).toEqual([image.metadata.name, volume.metadata.name]);
    expect(volume.spec.size).toBe('20Gi');
  });
});

describe('printer rows', () => {
  const now = new Date('2024-05-01T12:00:00Z');
  const info = (kind: string): KindInfo => kindByKind(kind)!;

  test('every kind has printer columns whose paths the printer understands', () => {
    for (const k of KINDS) {
      expect(k.printerColumns?.length).toBeGreaterThan(0);
      for (const c of k.printerColumns ?? []) expect(() => evaluateColumnPath({}, c.jsonPath)).not.toThrow();
    }
  });

  test('a running VM prints phase, host, cpu, memory, Ready, age, then the wide columns', () => {
    const obj = {
      ...vm({ runStrategy: 'Always' }, { creationTimestamp: '2024-05-01T11:55:00Z', generation: 3 }),
      status: { phase: 'Running', host: 'hv-042', domainUUID: 'u-1', conditions: [{ type: 'Scheduled', status: 'True' }, { type: 'Ready', status: 'False' }] },
    };
    expect(info('VirtualMachine').printerColumns!.map((c) => c.name)).toEqual(['Phase', 'Host', 'CPU', 'Memory', 'Ready', 'Age', 'IP', 'Addresses', 'Run Strategy', 'Domain UUID', 'Generation']);
    expect(printRow(info('VirtualMachine'), obj, now)).toEqual(['Running', 'hv-042', 2, '2Gi', 'False', '5m', null, null, 'Always', 'u-1', 3]);
    expect(printRow(info('VirtualMachine'), { ...obj, status: { ...obj.status, ip: '10.0.2.15' } }, now)[6]).toBe('10.0.2.15');
    const addresses = [
      { name: 'eth0', network: 'demo/web', ipAddress: '10.42.0.2', prefixLength: 24, mac: '52:54:00:00:00:01' },
      { name: 'eth1', network: 'demo/db', ipAddress: '10.43.0.7', prefixLength: 24, mac: '52:54:00:00:00:02' },
    ];
    expect(printRow(info('VirtualMachine'), { ...obj, status: { ...obj.status, addresses } }, now)[7]).toBe('10.42.0.2,10.43.0.7');
    expect(printRow(info('VirtualMachine'), { ...obj, status: { ...obj.status, addresses: addresses.slice(1) } }, now)[7]).toBe('10.43.0.7');
  });

  test('a new VM without status prints nulls for what is not known yet', () => {
    expect(printRow(info('VirtualMachine'), vm({}, { creationTimestamp: '2024-05-01T11:59:30Z' }), now)).toEqual([null, null, 2, '2Gi', null, '30s', null, null, null, null, null]);
  });

  test('a host prints Ready, cordon state and capacity against allocation', () => {
    const h = {
      ...host({ unschedulable: true }, { capacity: { cpu: 8, memory: '32Gi' }, allocated: { cpu: 2, memory: '4Gi' }, conditions: [{ type: 'Ready', status: 'True' }], libvirtURI: 'test:///default' }),
      metadata: { name: 'hv-1', creationTimestamp: '2024-04-28T12:00:00Z' },
    };
    expect(printRow(info('Host'), h, now)).toEqual(['True', 'true', '8', '2', '32Gi', '4Gi', '3d', 'test:///default', null]);
  });

  test('volumes, images and projects print their columns', () => {
    const t = '2024-05-01T09:00:00Z';
    expect(printRow(info('Volume'), { metadata: { creationTimestamp: t }, spec: { size: '20Gi' }, status: { phase: 'Ready', host: 'hv-1' } }, now)).toEqual(['Ready', '20Gi', 'hv-1', '3h', null, null]);
    expect(printRow(info('Image'), { metadata: { creationTimestamp: t }, spec: { format: 'qcow2' } }, now)).toEqual(['qcow2', null, '3h', null]);
    expect(printRow(info('Project'), { metadata: { creationTimestamp: t }, spec: { quota: { vms: 10 } }, status: { phase: 'Active', usage: { vms: 3 } } }, now)).toEqual([
      'Active', 3, 10, '3h', null, null, null,
    ]);
  });

  test('networks and security groups print their columns; [*] columns join every value with ","', () => {
    const t = '2024-05-01T09:00:00Z';
    const net = {
      metadata: { creationTimestamp: t }, spec: { cidr: '10.42.0.0/24', mode: 'nat' },
      status: { addresses: { total: 253, used: 2, free: 251 }, gateway: '10.42.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    expect(printRow(info('Network'), net, now)).toEqual(['10.42.0.0/24', 'nat', 2, 251, 'True', '3h', '10.42.0.1', null, null]);
    const sg = { metadata: { creationTimestamp: t }, spec: { ingress: [{ protocol: 'tcp', ports: '22', cidr: '0.0.0.0/0' }, { protocol: 'icmp', cidr: '0.0.0.0/0' }] }, status: { members: 3 } };
    expect(printRow(info('SecurityGroup'), sg, now)).toEqual(['tcp,icmp', null, 3, '3h']);
    expect(evaluateColumnPath({ a: [{ b: 1 }, {}, { b: 2 }] }, '.a[*].b')).toBe('1,2');
    expect(evaluateColumnPath({ a: [] }, '.a[*].b')).toBeUndefined();
  });

  test('ages read like kubectl: seconds, minutes, hours, days, years', () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    const d = 24 * h;
    expect([-5 * s, -500, 0, 59 * s, 119 * s, 2 * m, 5 * m + 30 * s, 42 * m, 3 * h, 3 * h + 20 * m, 20 * h, 2 * d, 2 * d + 5 * h, 45 * d, 800 * d, 3000 * d].map(humanDuration)).toEqual([
      '<invalid>', '0s', '0s', '59s', '119s', '2m', '5m30s', '42m', '3h', '3h20m', '20h', '2d', '2d5h', '45d', '2y70d', '8y',
    ]);
  });

  test('columns use the CLI\'s JSONPath: the Ready filter picks the condition of that type, whatever its position', () => {
    const obj = { status: { conditions: [{ type: 'Scheduled', status: 'True' }, { type: 'Ready', status: 'Unknown' }] } };
    expect(evaluateColumnPath(obj, '.status.conditions[?(@.type=="Ready")].status')).toBe('Unknown');
    expect(evaluateColumnPath({ status: { conditions: [] } }, '.status.conditions[?(@.type=="Ready")].status')).toBeUndefined();
    expect(evaluateColumnPath(obj, '.status.conditions[0].status')).toBe('True');
    expect(evaluateColumnPath(obj, '{.status.conditions[-1].type}')).toBe('Ready');
    expect(() => evaluateColumnPath(obj, '.status.conditions[?(@.type==')).toThrow(/error parsing jsonpath/);
  });
});
