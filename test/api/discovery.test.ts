// Discovery, OpenAPI and Table documents: the shapes stock kubectl relies on (see notes/kubernetes-api.md).
import {
  DISCOVERY_V2_CONTENT_TYPE, DISCOVERY_V2BETA1_CONTENT_TYPE, aggregatedDiscovery, aggregatedLegacyDiscovery, apiGroup,
  apiGroupList, apiResourceList, apiVersions, coreV1ResourceList, versionInfo, wantsAggregated,
} from '../../api/discovery';
import {
  OBJECT_META, PATCH_CONTENT_TYPES, QUANTITY, documentHash, openApiV2, openApiV3GroupVersion, openApiV3Root, schemaName,
  toOpenApiSchema, type SchemaOf,
} from '../../api/openapi';
import { parseIncludeObject, parseTableAccept, toTable, watchEventTable } from '../../api/table';
import { hasCode } from '../../errors';
import { KINDS, kindByKind, type KindInfo } from '../../schemas/kinds';
import { Validator } from '../../schemas/validate';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the documents are walked structurally
type Json = Record<string, any>;

const KUBECTL_132_DISCOVERY_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const KUBECTL_127_DISCOVERY_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const KUBECTL_TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

const VM = kindByKind('VirtualMachine')!;
const HOST = kindByKind('Host')!;

let validator: Validator;
let schemaOf: SchemaOf;
let v3: Json;
let v2: Json;

beforeAll(() => {
  validator = new Validator();
  schemaOf = (kind) => validator.schemaOf(kind);
  v3 = openApiV3GroupVersion(schemaOf);
  v2 = openApiV2(schemaOf);
});

/** Every node of a JSON document with its path. */
function* walk(node: unknown, path: string[] = []): Generator<[string[], Json]> {
  if (node && typeof node === 'object') {
    if (!Array.isArray(node)) yield [path, node as Json];
    for (const [k, v] of Object.entries(node)) yield* walk(v, [...path, k]);
  }
}

describe('version', () => {
  test('reports Kubernetes 1.32 so the kubectl dispatcher picks kubectl 1.32', () => {
    const v = versionInfo();
    expect(v).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.0-stratus' });
    for (const f of ['gitCommit', 'gitTreeState', 'buildDate', 'goVersion', 'compiler', 'platform']) expect(typeof (v as unknown as Json)[f]).toBe('string');
    expect(versionInfo({ gitCommit: 'abc' }).gitCommit).toBe('abc');
  });
});

describe('aggregated discovery', () => {
  test('kubectl 1.32 gets v2, kubectl 1.27 gets v2beta1, each with its exact content type', () => {
    expect(wantsAggregated(KUBECTL_132_DISCOVERY_ACCEPT)).toEqual({ version: 'v2', contentType: DISCOVERY_V2_CONTENT_TYPE });
    expect(wantsAggregated(KUBECTL_127_DISCOVERY_ACCEPT)).toEqual({ version: 'v2beta1', contentType: DISCOVERY_V2BETA1_CONTENT_TYPE });
    expect(DISCOVERY_V2_CONTENT_TYPE).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
  });

  test('plain JSON, no Accept, or JSON preferred by q get the legacy documents', () => {
    expect(wantsAggregated('application/json')).toBeUndefined();
    expect(wantsAggregated('application/json, */*')).toBeUndefined();
    expect(wantsAggregated(undefined)).toBeUndefined();
    expect(wantsAggregated('')).toBeUndefined();
    expect(wantsAggregated('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,application/json')).toBeUndefined();
    expect(wantsAggregated('application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList')?.version).toBe('v2');
    expect(wantsAggregated('application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json')).toBeUndefined();
  });

  test('/apis lists every kind with responseKind, scope, verbs, short names, categories and a status subresource', () => {
    const doc = aggregatedDiscovery();
    expect(doc).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {} });
    expect(doc.items).toHaveLength(1);
    expect(doc.items[0].metadata.name).toBe('stratuslab.eu');
    const [version] = doc.items[0].versions;
    expect(version).toMatchObject({ version: 'v1alpha1', freshness: 'Current' });
    expect(version.resources.map((r) => r.resource).sort()).toEqual(KINDS.map((k) => k.plural).sort());
    for (const r of version.resources) {
      const k = KINDS.find((x) => x.plural === r.resource)!;
      expect(r.responseKind).toEqual({ group: 'stratuslab.eu', version: 'v1alpha1', kind: k.kind });
      expect(r.scope).toBe(k.namespaced ? 'Namespaced' : 'Cluster');
      expect(r.singularResource).toBe(k.singular);
      expect(r.shortNames).toEqual(k.shortNames);
      expect(r.verbs).toEqual(['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
      expect(r.subresources![0]).toEqual({ subresource: 'status', responseKind: r.responseKind, verbs: ['get', 'patch', 'update'] });
    }
    const vm = version.resources.find((r) => r.resource === 'virtualmachines')!;
    // the VM actions (start, stop, restart) answer with a Status and are authorized as updates
    for (const action of ['start', 'stop', 'restart']) {
      expect(vm.subresources).toContainEqual({ subresource: action, responseKind: { group: '', version: 'v1', kind: 'Status' }, verbs: ['update'] });
    }
    for (const r of version.resources.filter((x) => x.resource !== 'virtualmachines')) expect(r.subresources!.map((x) => x.subresource)).not.toContain('start');
    expect(vm).toMatchObject({ scope: 'Namespaced', shortNames: ['vm', 'vms'], categories: ['all'] });
    const host = version.resources.find((r) => r.resource === 'hosts')!;
    expect(host.scope).toBe('Cluster');
    expect(host.categories).toBeUndefined();
    expect(aggregatedDiscovery('v2beta1').apiVersion).toBe('apidiscovery.k8s.io/v2beta1');
  });

  test('/api is aggregated too and offers namespaces (Projects) and events read-only', () => {
    const doc = aggregatedLegacyDiscovery();
    expect(doc).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {} });
    expect(doc.items[0].metadata.name).toBe('');
    expect(doc.items[0].versions[0]).toMatchObject({ version: 'v1', freshness: 'Current' });
    expect(doc.items[0].versions[0].resources).toEqual([{
      resource: 'namespaces', responseKind: { group: '', version: 'v1', kind: 'Namespace' }, scope: 'Cluster',
      singularResource: 'namespace', verbs: ['get', 'list'], shortNames: ['ns'],
    }, {
      resource: 'events', responseKind: { group: '', version: 'v1', kind: 'Event' }, scope: 'Namespaced',
      singularResource: 'event', verbs: ['get', 'list', 'watch'], shortNames: ['ev'],
    }]);
    expect(aggregatedLegacyDiscovery('v2beta1').apiVersion).toBe('apidiscovery.k8s.io/v2beta1');
  });
});

describe('legacy discovery', () => {
  test('/apis and /apis/stratuslab.eu name the group and its preferred version', () => {
    const gv = { groupVersion: 'stratuslab.eu/v1alpha1', version: 'v1alpha1' };
    expect(apiGroupList()).toEqual({ kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'stratuslab.eu', versions: [gv], preferredVersion: gv }] });
    expect(apiGroup()).toEqual({ kind: 'APIGroup', apiVersion: 'v1', name: 'stratuslab.eu', versions: [gv], preferredVersion: gv });
  });

  test('/apis/stratuslab.eu/v1alpha1 lists each kind and its status subresource', () => {
    const list = apiResourceList();
    expect(list).toMatchObject({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'stratuslab.eu/v1alpha1' });
    expect(list.resources.filter((r) => !r.name.includes('/') || r.name.endsWith('/status'))).toHaveLength(KINDS.length * 2);
    for (const action of ['start', 'stop', 'restart']) {
      expect(list.resources.find((r) => r.name === `virtualmachines/${action}`)).toEqual({ name: `virtualmachines/${action}`, singularName: '', namespaced: true, kind: 'Status', verbs: ['update'] });
    }
    expect(list.resources.find((r) => r.name === 'virtualmachines')).toEqual({
      name: 'virtualmachines', singularName: 'virtualmachine', namespaced: true, kind: 'VirtualMachine',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['vm', 'vms'], categories: ['all'],
    });
    expect(list.resources.find((r) => r.name === 'virtualmachines/status')).toEqual({
      name: 'virtualmachines/status', singularName: '', namespaced: true, kind: 'VirtualMachine', verbs: ['get', 'patch', 'update'],
    });
    expect(list.resources.find((r) => r.name === 'hosts')).toMatchObject({ namespaced: false, kind: 'Host', shortNames: ['host'] });
  });

  test('/api lists v1 only because /api/v1 is served, with namespaces get and list, events get, list and watch', () => {
    expect(apiVersions()).toEqual({ kind: 'APIVersions', versions: ['v1'] });
    expect(coreV1ResourceList()).toEqual({
      kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1',
      resources: [
        { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
        { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: ['get', 'list', 'watch'], shortNames: ['ev'] },
      ],
    });
  });
});

describe('OpenAPI v3', () => {
  const itemPath = (k: KindInfo) => (k.namespaced
    ? `/apis/stratuslab.eu/v1alpha1/namespaces/{namespace}/${k.plural}/{name}`
    : `/apis/stratuslab.eu/v1alpha1/${k.plural}/{name}`);

  test('every PATCH carries the kind as a GVK object and a fieldValidation query parameter, so kubectl validates server-side', () => {
    for (const k of KINDS) {
      for (const path of [itemPath(k), `${itemPath(k)}/status`]) {
        const patch = v3.paths[path]?.patch;
        expect(patch).toBeDefined();
        expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'stratuslab.eu', version: 'v1alpha1', kind: k.kind });
        expect(patch['x-kubernetes-action']).toBe('patch');
        const names = patch.parameters.filter((p: Json) => p.in === 'query').map((p: Json) => p.name);
        expect(names).toEqual(expect.arrayContaining(['fieldValidation', 'fieldManager', 'dryRun', 'force']));
      }
    }
  });

  test('PATCH accepts JSON patch, merge patch and apply, never strategic merge patch', () => {
    const patch = v3.paths[itemPath(VM)].patch;
    expect(Object.keys(patch.requestBody.content).sort()).toEqual(
      ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json'],
    );
    expect(PATCH_CONTENT_TYPES).not.toContain('application/strategic-merge-patch+json');
    expect(JSON.stringify(v3)).not.toContain('strategic-merge-patch');
  });

  test('publishes collection, item, status and all-namespaces paths with the Kubernetes operations', () => {
    const base = '/apis/stratuslab.eu/v1alpha1';
    const col = v3.paths[`${base}/namespaces/{namespace}/virtualmachines`];
    expect(Object.keys(col).sort()).toEqual(['delete', 'get', 'parameters', 'post']);
    expect(col.get['x-kubernetes-action']).toBe('list');
    expect(col.get.operationId).toBe('listStratuslabEuV1alpha1NamespacedVirtualMachine');
    expect(col.post['x-kubernetes-action']).toBe('post');
    expect(col.post.parameters.map((p: Json) => p.name)).toContain('fieldValidation');
    expect(col.delete['x-kubernetes-action']).toBe('deletecollection');
    expect(col.parameters.map((p: Json) => p.name)).toEqual(['namespace', 'pretty']);
    expect(Object.keys(v3.paths[`${base}/namespaces/{namespace}/virtualmachines/{name}`]).sort()).toEqual(['delete', 'get', 'parameters', 'patch', 'put']);
    expect(Object.keys(v3.paths[`${base}/namespaces/{namespace}/virtualmachines/{name}/status`]).sort()).toEqual(['get', 'parameters', 'patch', 'put']);
    expect(v3.paths[`${base}/virtualmachines`].get.operationId).toBe('listStratuslabEuV1alpha1VirtualMachineForAllNamespaces');
    expect(v3.paths[`${base}/hosts`].post.operationId).toBe('createStratuslabEuV1alpha1Host');
    expect(Object.keys(v3.paths).some((p) => p.includes('namespaces/{namespace}/hosts'))).toBe(false);
    expect(v3.openapi).toBe('3.0.0');
  });

  test('components carry each kind and its List with a GVK list, and metadata refers to ObjectMeta', () => {
    const schemas = v3.components.schemas;
    for (const k of KINDS) {
      const s = schemas[schemaName(k.kind)];
      expect(s['x-kubernetes-group-version-kind']).toEqual([{ group: 'stratuslab.eu', version: 'v1alpha1', kind: k.kind }]);
      expect(s.properties.metadata.allOf).toEqual([{ $ref: `#/components/schemas/${OBJECT_META}` }]);
      expect(s.properties.spec.type).toBe('object');
      const list = schemas[schemaName(`${k.kind}List`)];
      expect(list['x-kubernetes-group-version-kind']).toEqual([{ group: 'stratuslab.eu', version: 'v1alpha1', kind: `${k.kind}List` }]);
      expect(list.properties.items.items).toEqual({ $ref: `#/components/schemas/${schemaName(k.kind)}` });
    }
    expect(schemaName('VirtualMachine')).toBe('eu.stratuslab.v1alpha1.VirtualMachine');
    for (const meta of ['ObjectMeta', 'ListMeta', 'Status', 'DeleteOptions', 'Patch']) {
      expect(schemas[`io.k8s.apimachinery.pkg.apis.meta.v1.${meta}`]).toBeDefined();
    }
    expect(schemas[OBJECT_META].properties.labels.additionalProperties.type).toBe('string');
    expect(schemas[OBJECT_META].properties.name.description).toMatch(/name/);
  });

  test('schemas keep descriptions, enums, defaults and required, and use one shared Quantity', () => {
    const vm = v3.components.schemas[schemaName('VirtualMachine')];
    const spec = vm.properties.spec;
    expect(spec.description).toBeTruthy();
    expect(spec.required).toEqual(['cpu', 'memory']);
    expect(spec.properties.runStrategy).toMatchObject({ type: 'string', enum: ['Always', 'RerunOnFailure', 'Halted', 'Manual'], default: 'Always' });
    expect(vm.properties.kind.enum).toEqual(['VirtualMachine']);
    expect(spec.properties.memory.allOf).toEqual([{ $ref: `#/components/schemas/${QUANTITY}` }]);
    expect(v3.components.schemas[QUANTITY]).toMatchObject({ 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] });
    expect(spec.properties.disks['x-kubernetes-list-map-keys']).toEqual(['name']);
    const overcommit = v3.components.schemas[schemaName('Host')].properties.spec.properties.overcommit.properties.cpu;
    expect(overcommit).toMatchObject({ type: 'number', minimum: 0, exclusiveMinimum: true });
  });

  test('schemas are structural: no JSON Schema constructs OpenAPI 3.0 lacks, and every $ref resolves', () => {
    const forbidden = ['$schema', '$id', 'const', 'if', 'then', 'else', 'not', 'oneOf', 'propertyNames', 'dependencies', 'definitions', 'title', 'x-stratus-message'];
    for (const [path, node] of walk(v3.components.schemas)) {
      // a property may be called anything: only check schema keywords, i.e. not the keys of a properties map
      if (path[path.length - 1] === 'properties') continue;
      for (const f of forbidden) expect([path.join('.'), f in node]).toEqual([path.join('.'), false]);
      if ('type' in node) expect(typeof node.type).toBe('string');
      if ('additionalProperties' in node) expect(typeof node.additionalProperties).toBe('object');
    }
    for (const [path, node] of walk(v3)) {
      if (typeof node.$ref !== 'string') continue;
      const name = node.$ref.replace('#/components/schemas/', '');
      expect([path.join('.'), v3.components.schemas[name] !== undefined]).toEqual([path.join('.'), true]);
    }
  });

  test('the root points at the group version document with its hash', () => {
    expect(openApiV3Root('ABC')).toEqual({
      paths: { 'apis/stratuslab.eu/v1alpha1': { serverRelativeURL: '/openapi/v3/apis/stratuslab.eu/v1alpha1?hash=ABC' } },
    });
  });

  test('the hash is stable across builds and validators, and changes with the schema', () => {
    const h = documentHash(v3);
    expect(h).toMatch(/^[0-9A-F]{128}$/);
    expect(documentHash(openApiV3GroupVersion(schemaOf))).toBe(h);
    const other = new Validator();
    expect(documentHash(openApiV3GroupVersion((k) => other.schemaOf(k)))).toBe(h);
    const changed: SchemaOf = (kind) => {
      const s = validator.schemaOf(kind) as Json;
      if (kind === 'VirtualMachine') s.properties.spec.properties.cpu.description = 'changed';
      return s;
    };
    expect(documentHash(openApiV3GroupVersion(changed))).not.toBe(h);
  });
});

describe('OpenAPI v2', () => {
  test('is a Swagger 2.0 document with the same definitions and JSON-only paths', () => {
    expect(v2.swagger).toBe('2.0');
    for (const k of KINDS) {
      expect(v2.definitions[schemaName(k.kind)]['x-kubernetes-group-version-kind']).toEqual([{ group: 'stratuslab.eu', version: 'v1alpha1', kind: k.kind }]);
      expect(v2.definitions[schemaName(`${k.kind}List`)]).toBeDefined();
    }
    const vm = v2.definitions[schemaName('VirtualMachine')];
    expect(vm.properties.metadata.$ref).toBe(`#/definitions/${OBJECT_META}`);
    expect(v2.definitions[QUANTITY]).toMatchObject({ type: 'string', format: 'int-or-string' });
    const patch = v2.paths['/apis/stratuslab.eu/v1alpha1/namespaces/{namespace}/virtualmachines/{name}'].patch;
    expect(patch.consumes.sort()).toEqual(['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json']);
    expect(patch.parameters.find((p: Json) => p.name === 'fieldValidation')).toMatchObject({ in: 'query', type: 'string' });
    expect(patch.parameters.find((p: Json) => p.in === 'body').schema.$ref).toBe(`#/definitions/${OBJECT_META.replace('ObjectMeta', 'Patch')}`);
    expect(JSON.stringify(v2)).not.toContain('protobuf');
    for (const [, node] of walk(v2)) {
      if (typeof node.$ref === 'string') expect(v2.definitions[node.$ref.replace('#/definitions/', '')]).toBeDefined();
    }
  });
});

describe('JSON Schema to OpenAPI conversion', () => {
  const small = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://example/x.json',
    title: 'X',
    description: 'An X.',
    type: 'object',
    additionalProperties: false,
    required: ['kind'],
    properties: {
      kind: { description: 'The kind.', type: 'string', const: 'X' },
      ratio: { type: 'number', exclusiveMinimum: 0 },
      note: { type: ['string', 'null'] },
      size: { title: 'Quantity', type: ['string', 'integer'], 'x-kubernetes-int-or-string': true, 'x-stratus-message': 'm' },
      wrapped: { description: 'own', allOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { if: { required: ['a'] }, then: { required: ['b'] } }] },
      tags: { type: 'object', propertyNames: { pattern: '^a' }, additionalProperties: { type: 'string' } },
    },
    if: { required: ['ratio'] },
    then: { required: ['note'] },
  };

  test('const becomes a one-value enum, exclusive bounds become booleans, null types become nullable', () => {
    const out = toOpenApiSchema(small) as Json;
    expect(out).toEqual({
      description: 'An X.',
      type: 'object',
      required: ['kind'],
      properties: {
        kind: { description: 'The kind.', type: 'string', enum: ['X'] },
        ratio: { type: 'number', minimum: 0, exclusiveMinimum: true },
        note: { type: 'string', nullable: true },
        size: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
        wrapped: { description: 'own', type: 'object', properties: { a: { type: 'string' } } },
        tags: { type: 'object', additionalProperties: { type: 'string' } },
      },
    });
  });

  test('a whole document from a small inline schema has the kind, its List and a metadata reference', () => {
    const kind: KindInfo = { kind: 'Widget', plural: 'widgets', singular: 'widget', shortNames: ['wg'], namespaced: true, schemaFile: 'widget.json', categories: [] };
    const schema = { type: 'object', properties: { metadata: { type: 'object', properties: { name: { type: 'string' } } }, spec: small } };
    const doc = openApiV3GroupVersion(() => structuredClone(schema), [kind]) as Json;
    expect(doc.components.schemas['eu.stratuslab.v1alpha1.Widget'].properties.spec.properties.size.allOf).toEqual([{ $ref: `#/components/schemas/${QUANTITY}` }]);
    expect(doc.components.schemas[OBJECT_META].properties.name).toEqual({ type: 'string' });
    expect(doc.paths['/apis/stratuslab.eu/v1alpha1/namespaces/{namespace}/widgets/{name}'].patch['x-kubernetes-group-version-kind'].kind).toBe('Widget');
  });
});

describe('tables', () => {
  const created = '2024-05-01T12:00:00Z';
  const now = Date.parse(created) + 5 * 60_000;
  const vm = {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
    metadata: { name: 'web-1', namespace: 'demo', resourceVersion: '7', creationTimestamp: created, labels: { app: 'web' } },
    spec: { cpu: 2, memory: '2Gi', runStrategy: 'Always' },
    status: { phase: 'Running', host: 'hv-1', conditions: [{ type: 'Ready', status: 'True' }] },
  };

  test('columns start with Name (format name) and keep the printer columns priorities for -o wide', () => {
    const t = toTable(VM, [vm], { now, resourceVersion: '9', continue: 'c1' });
    expect(t).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '9', continue: 'c1' } });
    expect(t.columnDefinitions[0]).toEqual({ name: 'Name', type: 'string', format: 'name', description: expect.any(String), priority: 0 });
    expect(t.columnDefinitions.slice(1).map((c) => c.name)).toEqual((VM.printerColumns ?? []).map((c) => c.name));
    for (const [i, c] of (VM.printerColumns ?? []).entries()) {
      expect(t.columnDefinitions[i + 1]).toMatchObject({ type: c.type, priority: c.priority ?? 0 });
    }
    expect(t.columnDefinitions.some((c) => c.priority === 1)).toBe(true);
    const cells = t.rows[0].cells;
    expect(cells).toHaveLength(t.columnDefinitions.length);
    const cell = (name: string) => cells[t.columnDefinitions.findIndex((c) => c.name === name)];
    expect([cell('Name'), cell('Phase'), cell('CPU'), cell('Ready'), cell('Age')]).toEqual(['web-1', 'Running', 2, 'True', '5m']);
  });

  test('rows carry PartialObjectMetadata by default, the whole object for Object, nothing for None', () => {
    expect(toTable(VM, [vm], { now }).rows[0].object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: vm.metadata });
    expect(toTable(VM, [vm], { now, includeObject: 'Object' }).rows[0].object).toEqual(vm);
    expect('object' in toTable(VM, [vm], { now, includeObject: 'None' }).rows[0]).toBe(false);
    const beta = toTable(VM, [vm], { now, version: 'v1beta1' });
    expect(beta.apiVersion).toBe('meta.k8s.io/v1beta1');
    expect(beta.rows[0].object).toMatchObject({ apiVersion: 'meta.k8s.io/v1beta1' });
  });

  test('an empty list still has its columns and resourceVersion; noHeaders drops the columns', () => {
    expect(toTable(HOST, [], { resourceVersion: '3' })).toMatchObject({ rows: [], metadata: { resourceVersion: '3' } });
    expect(toTable(HOST, []).columnDefinitions.length).toBeGreaterThan(1);
    expect(toTable(VM, [vm], { now, noHeaders: true }).columnDefinitions).toEqual([]);
  });

  test('watch events are one-row Tables with columns only on the first', () => {
    const first = watchEventTable(VM, vm, true, { now });
    expect(first.columnDefinitions.length).toBeGreaterThan(0);
    expect(first.rows).toHaveLength(1);
    expect(first.metadata.resourceVersion).toBe('7');
    const later = watchEventTable(VM, vm, false, 'Object');
    expect(later.columnDefinitions).toEqual([]);
    expect(later.rows[0].object).toEqual(vm);
  });

  test('kubectl get asks for a v1 Table; v1beta1 alone, plain JSON, YAML and other forms are told apart', () => {
    expect(parseTableAccept(KUBECTL_TABLE_ACCEPT)).toEqual({ version: 'v1' });
    expect(parseTableAccept('application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json')).toEqual({ version: 'v1beta1' });
    expect(parseTableAccept('application/json')).toBeUndefined();
    expect(parseTableAccept('application/yaml')).toBeUndefined();
    expect(parseTableAccept(undefined)).toBeUndefined();
    expect(parseTableAccept('application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json')).toBeUndefined();
    expect(parseTableAccept('application/json, application/json;as=Table;v=v1;g=meta.k8s.io')).toBeUndefined();
  });

  test('includeObject defaults to Metadata and rejects unknown values with 400', () => {
    expect(parseIncludeObject(undefined)).toBe('Metadata');
    expect(parseIncludeObject('Object')).toBe('Object');
    expect(parseIncludeObject(['None', 'Object'])).toBe('Object');
    expect(parseIncludeObject('None')).toBe('None');
    let err: unknown;
    try {
      parseIncludeObject('Everything');
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'BAD_REQUEST')).toBe(true);
  });
});
