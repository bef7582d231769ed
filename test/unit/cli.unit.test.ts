// Unit tests of the stratus CLI: manifests, config, kinds, tables, waits, diffs, HTTP fail-over and
// exit codes. No Stratus server: HTTP tests use small local servers started here.

import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { ApiClient, errorCodeOf } from '../../cli/client';
import { configPathFor, parseConfig, parseServers } from '../../cli/config';
import { applyVerdict } from '../../cli/commands/apply';
import { describeLeases, describeObject, titleCase } from '../../cli/commands/describe';
import { manifestTarget, normalizeBooleanFlags, withoutVolatileFields } from '../../cli/commands/common';
import { jsonEqual } from '../../kube/equal';
import { parseDuration } from '../../cli/duration';
import { ApiError } from '../../cli/errors/api-error';
import { formatError } from '../../cli/errors/format';
import { evaluateJsonPath, parseJsonPathTemplate, renderTemplate } from '../../cli/jsonpath';
import { main, run, type CliIO } from '../../cli/main';
import { parseManifests, readManifests, sortByKindOrder } from '../../cli/manifests';
import {
  formatTable,
  humanDuration,
  parseOutputFormat,
  renderObjects,
  renderServerTable,
  toJson,
  toYaml,
  type MetaTable,
} from '../../cli/output';
import { parseTargets, resolveKindOrThrow, resolveKinds, resourcePath } from '../../cli/resources';
import { unifiedDiff } from '../../cli/unified-diff';
import { evaluateWait, isConditionMet, parseWaitFor } from '../../cli/wait-condition';

// ---------------------------------------------------------------------------------------------
// helpers

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-'));
}

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured streams and an isolated home folder. */
async function cli(args: string[], opts: { stdin?: string; env?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const io: Partial<CliIO> = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from([opts.stdin ?? '']),
    env: opts.env ?? {},
    homedir: emptyHome,
    signal: opts.signal,
  };
  const code = await run(['node', 'stratus', ...args], io);
  return { code, stdout, stderr };
}

const emptyHome = tmpDir();

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function closedPortUrl(): Promise<string> {
  const { server, url } = await listen(() => undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// manifests

describe('manifests', () => {
  test('reads every document of a multi-document YAML file and skips empty ones', () => {
    const ms = parseManifests(
      [
        '---',
        'apiVersion: stratuslab.eu/v1alpha1',
        'kind: VirtualMachine',
        'metadata: {name: a}',
        '---',
        '# only a comment',
        '---',
        'apiVersion: stratuslab.eu/v1alpha1',
        'kind: Volume',
        'metadata: {name: b}',
        '',
      ].join('\n'),
      'x.yaml',
    );
    expect(ms.map((m) => [m.object.kind, (m.object.metadata as { name: string }).name, m.document])).toEqual([
      ['VirtualMachine', 'a', 1],
      ['Volume', 'b', 3],
    ]);
  });

  test('reads JSON and expands List kinds into their items', () => {
    const ms = parseManifests(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'i' } },
          { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Host', metadata: { name: 'h' } },
        ],
      }),
      'l.json',
    );
    expect(ms.map((m) => m.object.kind)).toEqual(['Image', 'Host']);
  });

  test('a YAML syntax error names the file and the line', () => {
    expect(() => parseManifests('apiVersion: v1\nkind: [Foo\nmetadata: x: y\n', 'bad.yaml')).toThrow(/error parsing bad\.yaml: .*line \d+/);
  });

  test('a document without kind is rejected with its file and position', () => {
    expect(() => parseManifests('apiVersion: stratuslab.eu/v1alpha1\nkind: Host\n---\napiVersion: x\n', 'f.yaml')).toThrow(
      'error validating f.yaml (document 2): kind not set',
    );
  });

  test('an alias bomb is refused instead of expanded', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    const names = 'bcdefghij'.split('');
    let prev = 'a';
    for (const n of names) {
      lines.push(`${n}: &${n} [${Array(10).fill(`*${prev}`).join(',')}]`);
      prev = n;
    }
    lines.push('apiVersion: v1', 'kind: Bomb');
    expect(() => parseManifests(lines.join('\n'), 'bomb.yaml')).toThrow(/bomb\.yaml.*(alias|resource exhaustion)/i);
  });

  test('directories are read recursively, in name order, only .yaml/.yml/.json, skipping dot-folders', async () => {
    const d = tmpDir();
    const doc = (kind: string, name: string) => `apiVersion: stratuslab.eu/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\n`;
    write(path.join(d, 'b.yaml'), doc('Volume', 'b'));
    write(path.join(d, 'a.yml'), doc('Volume', 'a'));
    write(path.join(d, 'sub', 'deeper', 'c.json'), JSON.stringify({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'c' } }));
    write(path.join(d, 'notes.txt'), 'not a manifest');
    write(path.join(d, '.git', 'x.yaml'), doc('Volume', 'hidden'));
    const ms = await readManifests([d]);
    expect(ms.map((m) => (m.object.metadata as { name: string }).name)).toEqual(['a', 'b', 'c']);
  });

  test('"-" reads the manifests from stdin', async () => {
    const ms = await readManifests(['-'], { stdin: Readable.from(['apiVersion: stratuslab.eu/v1alpha1\nkind: Project\nmetadata: {name: p}\n']) });
    expect(ms).toHaveLength(1);
    expect(ms[0].source).toBe('-');
  });

  test('a missing path is a readable error', async () => {
    await expect(readManifests(['/nonexistent/stratus.yaml'])).rejects.toThrow('the path "/nonexistent/stratus.yaml" does not exist');
  });

  test('objects are ordered Project, Host, Image, Volume, Network, SecurityGroup, VirtualMachine, others last; stable otherwise', () => {
    const mk = (kind: string, name: string) => ({ object: { apiVersion: 'stratuslab.eu/v1alpha1', kind, metadata: { name } } });
    const sorted = sortByKindOrder([
      mk('VirtualMachine', 'vm1'), mk('Foo', 'f'), mk('SecurityGroup', 'sg'), mk('Volume', 'v'), mk('VirtualMachine', 'vm2'), mk('Network', 'n'), mk('Image', 'i'), mk('Host', 'h'), mk('Project', 'p'),
    ]);
    expect(sorted.map((m) => m.object.metadata.name)).toEqual(['p', 'h', 'i', 'v', 'n', 'sg', 'vm1', 'vm2', 'f']);
    expect(sortByKindOrder(sorted, true).map((m) => m.object.metadata.name)).toEqual(['f', 'vm1', 'vm2', 'sg', 'n', 'v', 'i', 'h', 'p']);
  });

  test('manifest namespace: the manifest wins, else the default; cluster-scoped objects lose theirs', () => {
    const [vm, vm2, host] = parseManifests(
      [
        'apiVersion: stratuslab.eu/v1alpha1\nkind: VirtualMachine\nmetadata: {name: a, namespace: prod}',
        'apiVersion: stratuslab.eu/v1alpha1\nkind: VirtualMachine\nmetadata: {name: b}',
        'apiVersion: stratuslab.eu/v1alpha1\nkind: Host\nmetadata: {name: h, namespace: prod}',
      ].join('\n---\n'),
      'm.yaml',
    );
    expect(manifestTarget(vm, 'demo').namespace).toBe('prod');
    expect(manifestTarget(vm2, 'demo').namespace).toBe('demo');
    expect((manifestTarget(vm2, 'demo').body.metadata as Record<string, unknown>).namespace).toBe('demo');
    const h = manifestTarget(host, 'demo');
    expect(h.namespace).toBeUndefined();
    expect(h.body.metadata).toEqual({ name: 'h' });
  });

  test('an unknown kind or foreign apiVersion gets kubectl\'s "no matches for kind" error', () => {
    const [foo, pod] = parseManifests('apiVersion: stratuslab.eu/v1alpha1\nkind: Foo\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}', 'f.yaml');
    expect(() => manifestTarget(foo, 'demo')).toThrow('no matches for kind "Foo" in version "stratuslab.eu/v1alpha1"');
    expect(() => manifestTarget(pod, 'demo')).toThrow('no matches for kind "Pod" in version "v1"');
  });
});

// ---------------------------------------------------------------------------------------------
// config, kinds, paths

describe('config and kinds', () => {
  test('config path: --config, else $STRATUS_CONFIG, else ~/.stratus/config.yaml', () => {
    expect(configPathFor('/a.yaml', { STRATUS_CONFIG: '/b.yaml' }, '/home/u')).toEqual({ path: '/a.yaml', explicit: true });
    expect(configPathFor(undefined, { STRATUS_CONFIG: '/b.yaml' }, '/home/u')).toEqual({ path: '/b.yaml', explicit: true });
    expect(configPathFor(undefined, {}, '/home/u')).toEqual({ path: '/home/u/.stratus/config.yaml', explicit: false });
  });

  test('parses servers, token, ca and namespace; a bare host:port means https', () => {
    const cfg = parseConfig('servers: [https://127.0.0.1:6443, "10.0.0.2:6444"]\ntoken: t\nca: ca.pem\nnamespace: demo\n', 'c.yaml');
    expect(cfg).toEqual({ servers: ['https://127.0.0.1:6443', 'https://10.0.0.2:6444'], token: 't', ca: 'ca.pem', namespace: 'demo' });
    expect(parseServers('http://a:1,http://b:2')).toEqual(['http://a:1', 'http://b:2']);
    expect(() => parseConfig('servers: [ftp://x]', 'c.yaml')).toThrow(/c\.yaml.*http or https/);
  });

  test('resolves kinds by kind, plural, singular, short name and qualified names', () => {
    for (const n of ['vm', 'VM', 'vms', 'virtualmachine', 'VirtualMachine', 'virtualmachines.stratuslab.eu', 'virtualmachines.v1alpha1.stratuslab.eu']) {
      expect(resolveKindOrThrow(n).kind).toBe('VirtualMachine');
    }
    expect(resolveKinds('vm,vol').map((k) => k.kind)).toEqual(['VirtualMachine', 'Volume']);
    expect(resolveKinds('net,sg').map((k) => k.kind)).toEqual(['Network', 'SecurityGroup']);
    expect(resolveKinds('networks,securitygroups').map((k) => k.kind)).toEqual(['Network', 'SecurityGroup']);
    expect(resolveKinds('all').map((k) => k.kind)).toEqual(['VirtualMachine', 'Volume', 'Image', 'Network', 'SecurityGroup']);
  });

  test('an unknown kind is a usage error with kubectl\'s message', () => {
    expect(() => resolveKindOrThrow('foo')).toThrow(expect.objectContaining({ message: 'the server doesn\'t have a resource type "foo"', exitCode: 2 }));
  });

  test('argument forms: KIND NAME..., KIND/NAME..., and no mixing', () => {
    expect(parseTargets(['vm', 'a', 'b'])).toMatchObject({ form: 'kind', names: ['a', 'b'] });
    const refs = parseTargets(['vm/a', 'host/h']);
    expect(refs.form === 'refs' && refs.refs.map((r) => `${r.kind.plural}/${r.name}`)).toEqual(['virtualmachines/a', 'hosts/h']);
    expect(() => parseTargets(['vm/a', 'b'])).toThrow(/resource\/name form/);
  });

  test('REST paths of namespaced, all-namespaces and cluster-scoped objects', () => {
    const vm = resolveKindOrThrow('vm');
    const host = resolveKindOrThrow('host');
    expect(resourcePath(vm, { namespace: 'demo', name: 'web-1', subresource: 'status' })).toBe('/apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/web-1/status');
    expect(resourcePath(vm, {})).toBe('/apis/stratuslab.eu/v1alpha1/virtualmachines');
    expect(resourcePath(host, { namespace: 'demo', name: 'hv1' })).toBe('/apis/stratuslab.eu/v1alpha1/hosts/hv1');
  });

  test('kubectl-style --flag=true|false of boolean flags', () => {
    expect(normalizeBooleanFlags(['delete', 'vm', 'x', '--wait=false', '--ignore-not-found=true', '--all=false', '-n', 'demo'])).toEqual(['delete', 'vm', 'x', '--no-wait', '--ignore-not-found', '-n', 'demo']);
    expect(normalizeBooleanFlags(['--', '--wait=false'])).toEqual(['--', '--wait=false']);
    expect(() => normalizeBooleanFlags(['--wait=maybe'])).toThrow('invalid argument "maybe" for "--wait" flag');
  });

  test('durations: Go syntax and bare seconds', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5')).toBe(5000);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/);
  });
});

// ---------------------------------------------------------------------------------------------
// output

const TABLE: MetaTable = {
  kind: 'Table',
  apiVersion: 'meta.k8s.io/v1',
  metadata: { resourceVersion: '7' },
  columnDefinitions: [
    { name: 'Name', type: 'string', format: 'name', priority: 0 },
    { name: 'Phase', type: 'string', priority: 0 },
    { name: 'CPU', type: 'integer', priority: 1 },
    { name: 'Host', type: 'string', priority: 1 },
    { name: 'Age', type: 'date', priority: 0 },
  ],
  rows: [
    { cells: ['web-1', 'Running', 2, 'hv-042', '5m'], object: { metadata: { name: 'web-1', namespace: 'demo' } } },
    { cells: ['database', 'Pending', 16, null, '10s'], object: { metadata: { name: 'database', namespace: 'prod' } } },
  ],
};

describe('output', () => {
  test('tables: upper-case headers, 3-space gaps, no trailing blanks, priority-1 columns hidden', () => {
    expect(renderServerTable(TABLE)).toBe(['NAME       PHASE     AGE', 'web-1      Running   5m', 'database   Pending   10s', ''].join('\n'));
  });

  test('-o wide shows priority-1 columns; a null cell prints <none>', () => {
    expect(renderServerTable(TABLE, { wide: true })).toBe(
      ['NAME       PHASE     CPU   HOST     AGE', 'web-1      Running   2     hv-042   5m', 'database   Pending   16    <none>   10s', ''].join('\n'),
    );
  });

  test('-A puts a NAMESPACE column first, from the row objects', () => {
    expect(renderServerTable(TABLE, { withNamespace: true }).split('\n')[0]).toBe('NAMESPACE   NAME       PHASE     AGE');
    expect(renderServerTable(TABLE, { withNamespace: true }).split('\n')[2]).toBe('prod        database   Pending   10s');
  });

  test('the Name column is printed first even when the server puts it elsewhere', () => {
    const t: MetaTable = { ...TABLE, columnDefinitions: [{ name: 'Phase', type: 'string' }, { name: 'Name', type: 'string', format: 'name' }], rows: [{ cells: ['Running', 'x'] }] };
    expect(renderServerTable(t)).toBe('NAME   PHASE\nx      Running\n');
  });

  test('formatTable pads to the widest cell', () => {
    expect(formatTable(['A', 'B'], [['long-value', 'x']])).toBe('A            B\nlong-value   x\n');
  });

  test('ages follow kubectl\'s HumanDuration', () => {
    const s = 1000;
    expect(humanDuration(45 * s)).toBe('45s');
    expect(humanDuration(119 * s)).toBe('119s');
    expect(humanDuration(5 * 60 * s + 10 * s)).toBe('5m10s');
    expect(humanDuration(90 * 60 * s)).toBe('90m');
    expect(humanDuration(5 * 3600 * s + 30 * 60 * s)).toBe('5h30m');
    expect(humanDuration(30 * 3600 * s)).toBe('30h');
    expect(humanDuration(3 * 86400 * s + 4 * 3600 * s)).toBe('3d4h');
    expect(humanDuration(400 * 86400 * s)).toBe('400d');
  });

  test('-o json/yaml sort keys like kubectl; several objects become a v1 List', () => {
    const objs = [{ metadata: { name: 'a' }, kind: 'Host', apiVersion: 'stratuslab.eu/v1alpha1' }];
    expect(toJson(objs[0])).toBe('{\n    "apiVersion": "stratuslab.eu/v1alpha1",\n    "kind": "Host",\n    "metadata": {\n        "name": "a"\n    }\n}\n');
    expect(toYaml({ spec: { disks: [{ name: 'root' }] } })).toBe('spec:\n  disks:\n  - name: root\n');
    const list = JSON.parse(renderObjects(objs, { type: 'json' }, { forceList: true }));
    expect(list).toEqual({ apiVersion: 'v1', kind: 'List', items: objs, metadata: { resourceVersion: '' } });
  });

  test('-o parsing: allowed formats, jsonpath templates, readable error otherwise', () => {
    expect(parseOutputFormat('wide')).toEqual({ type: 'table', wide: true });
    expect(parseOutputFormat('jsonpath={.metadata.name}').type).toBe('jsonpath');
    expect(() => parseOutputFormat('xml')).toThrow('unable to match a printer suitable for the output format "xml"');
  });

  test('jsonpath: fields, indexes, wildcards, filters and range templates', () => {
    const obj = { status: { conditions: [{ type: 'Scheduled', status: 'True' }, { type: 'Ready', status: 'False' }] }, items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }] };
    expect(evaluateJsonPath('{.status.conditions[?(@.type=="Ready")].status}'.slice(1, -1), obj)).toEqual(['False']);
    expect(evaluateJsonPath('.items[*].metadata.name', obj)).toEqual(['a', 'b']);
    expect(evaluateJsonPath('.items[-1].metadata.name', obj)).toEqual(['b']);
    expect(evaluateJsonPath('..name', obj)).toEqual(['a', 'b']);
    expect(renderTemplate(parseJsonPathTemplate('{range .items[*]}{.metadata.name}{"\\n"}{end}'), obj)).toBe('a\nb\n');
  });

  test('describe: sections, aligned labels, a conditions table, title-cased keys', () => {
    const text = describeObject({
      apiVersion: 'stratuslab.eu/v1alpha1',
      kind: 'VirtualMachine',
      metadata: { name: 'web-1', namespace: 'demo', labels: { app: 'web', tier: 'front' }, generation: 3, uid: 'u1' },
      spec: { runStrategy: 'Always', cpu: 2, disks: [{ name: 'root', image: 'debian-12' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', reason: 'Running' }] },
    });
    expect(text).toContain('Name:         web-1\nNamespace:    demo\nLabels:       app=web\n              tier=front\nAnnotations:  <none>\n');
    expect(text).toContain('Spec:\n  Run Strategy:  Always\n  CPU:           2\n  Disks:\n    - Name:   root\n      Image:  debian-12\n');
    expect(text).toContain('Status:\n  Conditions:\n    Type   Status  Reason\n    ----   ------  ------\n    Ready  True    Running\n  Phase:  Running\n');
    expect(text).not.toContain('Events');
    expect(titleCase('domainUUID')).toBe('Domain UUID');
  });

  test('describe: a Network\'s leases as a table, <none> when nobody holds an address', () => {
    expect(describeLeases([
      { address: '10.42.0.2', vm: 'demo/web-1', interface: 'eth0', mac: '52:54:00:aa:bb:cc' },
      { address: '10.42.0.10', vm: 'other/*', interface: 'lan' },
    ])).toBe([
      'Leases:',
      '  Address     VM          Interface  MAC',
      '  -------     --          ---------  ---',
      '  10.42.0.2   demo/web-1  eth0       52:54:00:aa:bb:cc',
      '  10.42.0.10  other/*     lan',
      '',
    ].join('\n'));
    expect(describeLeases([])).toBe('Leases:       <none>\n');
    expect(describeLeases(undefined)).toBe('');
  });

  test('unified diff: hunks with 3 lines of context, empty when equal', () => {
    const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].join('\n') + '\n';
    const b = ['a', 'b', 'c', 'd', 'E', 'f', 'g', 'h', 'i', 'j', 'k'].join('\n') + '\n';
    expect(unifiedDiff(a, a, 'x', 'y')).toBe('');
    expect(unifiedDiff(a, b, 'LIVE', 'MERGED')).toBe(
      ['--- LIVE', '+++ MERGED', '@@ -2,9 +2,10 @@', ' b', ' c', ' d', '-e', '+E', ' f', ' g', ' h', ' i', ' j', '+k', ''].join('\n'),
    );
    expect(unifiedDiff('', 'x: 1\n', 'LIVE', 'MERGED')).toBe('--- LIVE\n+++ MERGED\n@@ -0,0 +1 @@\n+x: 1\n');
  });

  test('API errors print kubectl-style', () => {
    expect(formatError(ApiError.fromResponse(404, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'virtualmachines.stratuslab.eu "x" not found' }))).toBe(
      'Error from server (NotFound): virtualmachines.stratuslab.eu "x" not found',
    );
    expect(formatError(ApiError.fromResponse(401, { kind: 'Status', code: 401, reason: 'Unauthorized', message: 'Unauthorized' }))).toBe(
      'error: You must be logged in to the server (Unauthorized)',
    );
    expect(
      formatError(
        ApiError.fromResponse(422, {
          kind: 'Status', code: 422, reason: 'Invalid', message: 'm',
          details: { kind: 'VirtualMachine', name: 'x', causes: [{ field: 'spec.cpu', message: 'Invalid value: 0' }, { field: 'spec.memory', message: 'Required value' }] },
        }),
      ),
    ).toBe('error: The VirtualMachine "x" is invalid: \n* spec.cpu: Invalid value: 0\n* spec.memory: Required value');
    expect(formatError(ApiError.fromResponse(502, 'bad gateway'))).toBe('Error from server: bad gateway');
  });
});

// ---------------------------------------------------------------------------------------------
// wait conditions and apply verdicts (pure)

describe('wait conditions', () => {
  const vm = (conds: unknown[], generation?: number, observed?: number) => ({
    metadata: { name: 'x', generation },
    status: { observedGeneration: observed, conditions: conds },
  });

  test('parses --for values, quotes and defaults', () => {
    expect(parseWaitFor('condition=Ready')).toEqual({ type: 'condition', condition: 'Ready', status: 'True' });
    expect(parseWaitFor('condition=Ready=false')).toEqual({ type: 'condition', condition: 'Ready', status: 'false' });
    expect(parseWaitFor('delete')).toEqual({ type: 'delete' });
    expect(parseWaitFor("jsonpath='{.status.phase}'=Running")).toMatchObject({ type: 'jsonpath', expression: '.status.phase', value: 'Running' });
    expect(parseWaitFor('jsonpath={.status.phase}=Running')).toMatchObject({ expression: '.status.phase', value: 'Running' });
    expect(parseWaitFor('jsonpath={.status.host}')).toMatchObject({ expression: '.status.host', value: undefined });
    expect(() => parseWaitFor(undefined)).toThrow(/--for must be specified/);
    expect(() => parseWaitFor('ready')).toThrow(/unrecognized condition/);
  });

  test('a condition is met when its type matches case-insensitively with the wanted status', () => {
    expect(isConditionMet(vm([{ type: 'ready', status: 'True' }]), 'Ready')).toBe(true);
    expect(isConditionMet(vm([{ type: 'Ready', status: 'False' }]), 'Ready')).toBe(false);
    expect(isConditionMet(vm([{ type: 'Ready', status: 'False' }]), 'Ready', 'false')).toBe(true);
    expect(isConditionMet(vm([{ type: 'Scheduled', status: 'True' }]), 'Ready')).toBe(false);
    expect(isConditionMet({ metadata: {} }, 'Ready')).toBe(false);
  });

  test('a condition observed for an older generation is not met', () => {
    expect(isConditionMet(vm([{ type: 'Ready', status: 'True', observedGeneration: 2 }], 3), 'Ready')).toBe(false);
    expect(isConditionMet(vm([{ type: 'Ready', status: 'True' }], 3, 2), 'Ready')).toBe(false);
    expect(isConditionMet(vm([{ type: 'Ready', status: 'True', observedGeneration: 3 }], 3, 2), 'Ready')).toBe(true);
    expect(isConditionMet(vm([{ type: 'Ready', status: 'True' }], 3, 3), 'Ready')).toBe(true);
    expect(isConditionMet(vm([{ type: 'Ready', status: 'True' }], 3), 'Ready')).toBe(true);
  });

  test('delete is met when the object is gone or re-created with another uid; jsonpath compares values', () => {
    expect(evaluateWait({ type: 'delete' }, undefined)).toBe(true);
    expect(evaluateWait({ type: 'delete' }, { metadata: { uid: 'u1' } }, 'u1')).toBe(false);
    expect(evaluateWait({ type: 'delete' }, { metadata: { uid: 'u2' } }, 'u1')).toBe(true);
    const w = parseWaitFor('jsonpath={.status.phase}=Running');
    expect(evaluateWait(w, { status: { phase: 'Running' } })).toBe(true);
    expect(evaluateWait(w, { status: { phase: 'Pending' } })).toBe(false);
    expect(evaluateWait(parseWaitFor('jsonpath={.status.host}'), { status: {} })).toBe(false);
    expect(evaluateWait(parseWaitFor('jsonpath={.spec.cpu}=2'), { spec: { cpu: 2 } })).toBe(true);
  });

  test('apply verdict: 404 before → created, same resourceVersion → unchanged, spec change → configured', () => {
    const before = { metadata: { name: 'a', resourceVersion: '1', generation: 1 }, spec: { cpu: 1 }, status: { phase: 'Running' } };
    expect(applyVerdict(undefined, before, 201, false)).toBe('created');
    expect(applyVerdict(before, before, 200, false)).toBe('unchanged');
    expect(applyVerdict(before, { ...before, metadata: { ...before.metadata, resourceVersion: '2', generation: 2 }, spec: { cpu: 2 } }, 200, false)).toBe('configured');
    // only status moved meanwhile: not our change
    expect(applyVerdict(before, { ...before, metadata: { ...before.metadata, resourceVersion: '3' }, status: { phase: 'Stopped' } }, 200, false)).toBe('unchanged');
    // dry run: content decides
    expect(applyVerdict(before, { ...before, spec: { cpu: 4 } }, 200, true)).toBe('configured');
  });

  test('volatile fields are ignored when comparing', () => {
    const a = { metadata: { name: 'a', resourceVersion: '1', managedFields: [1], creationTimestamp: 't1' }, status: { conditions: [{ type: 'Ready', lastTransitionTime: 't1' }] } };
    const b = { metadata: { name: 'a', resourceVersion: '2', managedFields: [2], creationTimestamp: 't2' }, status: { conditions: [{ type: 'Ready', lastTransitionTime: 't2' }] } };
    expect(jsonEqual(withoutVolatileFields(a), withoutVolatileFields(b))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// HTTP client: fail-over, auth, errors

describe('HTTP client fail-over', () => {
  test('a refused connection fails over to the next server', async () => {
    const refused = await closedPortUrl();
    const seen: string[] = [];
    const { server, url } = await listen((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    const client = new ApiClient({ servers: [refused, url], token: 'tok' });
    try {
      await expect(client.get('/version')).resolves.toEqual({ ok: true });
      expect(seen).toEqual(['GET /version Bearer tok']);
      // the server that answered is tried first afterwards
      expect(client.currentServer).toBe(url);
    } finally {
      await client.close();
      await close(server);
    }
  });

  test('a DNS failure fails over too', async () => {
    const { server, url } = await listen((_req, res) => res.end('{}'));
    const client = new ApiClient({ servers: ['http://stratus-nonexistent.invalid:6443', url] });
    try {
      await expect(client.get('/version')).resolves.toEqual({});
    } finally {
      await client.close();
      await close(server);
    }
  });

  test('a server that answered 500 is not retried on the next one', async () => {
    let secondHits = 0;
    const first = await listen((_req, res) => {
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'boom', reason: 'InternalError', code: 500 }));
    });
    const second = await listen((_req, res) => {
      secondHits++;
      res.end('{}');
    });
    const client = new ApiClient({ servers: [first.url, second.url] });
    try {
      await expect(client.request('POST', '/x', { body: { a: 1 } })).rejects.toMatchObject({ code: 'API_ERROR', status: 500, reason: 'InternalError', message: 'boom' });
      expect(secondHits).toBe(0);
    } finally {
      await client.close();
      await close(first.server);
      await close(second.server);
    }
  });

  test('a connection reset before any response fails over', async () => {
    const first = await listen((req) => req.socket.destroy());
    const second = await listen((_req, res) => res.end('{"from":"second"}'));
    const client = new ApiClient({ servers: [first.url, second.url] });
    try {
      await expect(client.get('/version')).resolves.toEqual({ from: 'second' });
    } finally {
      await client.close();
      await close(first.server);
      await close(second.server);
    }
  });

  test('when every server is unreachable the error lists them all', async () => {
    const a = await closedPortUrl();
    const b = await closedPortUrl();
    const client = new ApiClient({ servers: [a, b] });
    try {
      const err = await client.get('/version').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CONNECTION', exitCode: 1 });
      expect((err as Error).message).toBe(`unable to connect to the server: ${a}: connection refused; ${b}: connection refused`);
      expect(errorCodeOf((err as { attempts: unknown[] }).attempts[0])).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  test('watch streams are split into events, line by line', async () => {
    const { server, url } = await listen((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"1"}}}\n{"type":"MODI');
      setTimeout(() => res.end('FIED","object":{"metadata":{"name":"a","resourceVersion":"2"}}}\n'), 20);
    });
    const client = new ApiClient({ servers: [url] });
    try {
      const types: string[] = [];
      for await (const ev of client.watch('/w')) types.push(`${ev.type}:${(ev.object.metadata as { resourceVersion: string }).resourceVersion}`);
      expect(types).toEqual(['ADDED:1', 'MODIFIED:2']);
    } finally {
      await client.close();
      await close(server);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// main: exit codes and messages

describe('main exit codes', () => {
  test('an unknown kind exits 2 with kubectl\'s message', async () => {
    const r = await cli(['get', 'foo', '--server', 'http://127.0.0.1:9']);
    expect(r).toMatchObject({ code: 2, stderr: 'error: the server doesn\'t have a resource type "foo"\n' });
  });

  test('an unknown flag, an unknown command and no command exit 2', async () => {
    expect((await cli(['get', 'vm', '--bogus'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
  });

  test('bad -o, missing --for, missing -f and a bad duration exit 2', async () => {
    const s = ['--server', 'http://127.0.0.1:9'];
    const o = await cli(['get', 'vm', '-o', 'xml', ...s]);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/^error: unable to match a printer suitable for the output format "xml"/);
    expect((await cli(['wait', 'vm/x', ...s])).code).toBe(2);
    expect((await cli(['apply', ...s])).code).toBe(2);
    expect((await cli(['wait', 'vm/x', '--for=delete', '--timeout', 'soon', ...s])).code).toBe(2);
    expect(await cli(['delete', 'vm', 'x', '--wait=maybe', ...s])).toMatchObject({ code: 2, stderr: 'error: invalid argument "maybe" for "--wait" flag: use true or false\n' });
  });

  test('--help exits 0 and prints the commands', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/apply.*\n[\s\S]*get[\s\S]*wait/);
  });

  test('an unreachable server exits 1 with a readable line and no stack trace', async () => {
    const url = await closedPortUrl();
    const r = await cli(['get', 'vm', '--server', url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: unable to connect to the server: ${url}: connection refused\n`);
  });

  test('unreadable manifests exit 1 naming the file; nothing is sent', async () => {
    const d = tmpDir();
    const f = write(path.join(d, 'bad.yaml'), 'kind: [\n');
    let hits = 0;
    const { server, url } = await listen((_req, res) => {
      hits++;
      res.end('{}');
    });
    try {
      const r = await cli(['apply', '-f', f, '--server', url]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: error parsing ${f}`);
      expect(hits).toBe(0);
    } finally {
      await close(server);
    }
  });

  test('the config file provides servers, token and namespace', async () => {
    const seen: string[] = [];
    const { server, url } = await listen((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'VirtualMachineList', apiVersion: 'stratuslab.eu/v1alpha1', metadata: { resourceVersion: '1' }, items: [] }));
    });
    const d = tmpDir();
    const cfg = write(path.join(d, 'config.yaml'), `servers: [${await closedPortUrl()}, ${url}]\ntoken: secret\nnamespace: demo\n`);
    try {
      const r = await cli(['get', 'vm'], { env: { STRATUS_CONFIG: cfg } });
      expect(r).toEqual({ code: 0, stdout: '', stderr: 'No resources found in demo namespace.\n' });
      expect(seen).toEqual(['/apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines?limit=500 Bearer secret']);
    } finally {
      await close(server);
    }
  });

  test('main sets process.exitCode to the exit code', async () => {
    const saved = process.exitCode;
    try {
      const code = await main(['node', 'stratus', 'get', 'foo'], { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, homedir: emptyHome });
      expect(code).toBe(2);
      expect(process.exitCode).toBe(2);
    } finally {
      process.exitCode = saved;
    }
  });

  test('https: the config\'s CA (relative to the config file) is trusted; without it the TLS error is reported', async () => {
    const d = tmpDir();
    // a CA and a server certificate for 127.0.0.1
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=stratus-api', '-keyout', 'server-key.pem', '-out', 'server.csr');
    write(path.join(d, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', 'server.ext', '-out', 'server.pem');
    const server = https.createServer({ cert: fs.readFileSync(path.join(d, 'server.pem')), key: fs.readFileSync(path.join(d, 'server-key.pem')) }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ gitVersion: 'v1.32.0', auth: req.headers.authorization }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cfg = write(path.join(d, 'config.yaml'), `servers: [${url}]\nca: ca.pem\ntoken: tls-token\n`);
    try {
      const ok = await cli(['version', '-o', 'json', '--config', cfg]);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout).serverVersion).toEqual({ gitVersion: 'v1.32.0', auth: 'Bearer tls-token' });
      const bad = await cli(['get', 'vm', '--server', url]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^error: unable to connect to the server: https:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed)/i);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('an explicit config file that does not exist is an error', async () => {
    const r = await cli(['get', 'vm', '--config', '/nonexistent/stratus.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot read config file \/nonexistent\/stratus\.yaml/);
  });
});

// ---------------------------------------------------------------------------------------------
// commands against a stub of the API (an in-memory Kubernetes-style server, just enough of it)

type Obj = Record<string, any>;

class StubApi {
  readonly objects = new Map<string, Obj>();
  readonly log: string[] = [];
  private rv = 100;
  private uid = 0;
  private watchers: Array<{ plural: string; ns?: string; name?: string; table: boolean; res: http.ServerResponse }> = [];
  server!: http.Server;
  url = '';

  async start(): Promise<void> {
    const { server, url } = await listen((req, res) => this.handle(req, res));
    this.server = server;
    this.url = url;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    await close(this.server);
  }

  /** Watches to answer with an ERROR 410 Expired event (then close). */
  expireWatches = 0;

  /** Ends every open watch stream, as a frontend restart or a proxy timeout would. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers = [];
  }

  private key(plural: string, ns: string | undefined, name: string): string {
    return `${plural}/${ns ?? ''}/${name}`;
  }

  /** Simulates a controller writing status. */
  setStatus(plural: string, ns: string | undefined, name: string, status: Obj): void {
    const o = this.objects.get(this.key(plural, ns, name));
    if (!o) throw new Error('no such object');
    o.status = status;
    o.metadata.resourceVersion = String(++this.rv);
    this.notify('MODIFIED', plural, o);
  }

  /** Simulates the owner removing its finalizers: the object goes. */
  finalize(plural: string, ns: string | undefined, name: string): void {
    const k = this.key(plural, ns, name);
    const o = this.objects.get(k);
    if (!o) return;
    this.objects.delete(k);
    o.metadata.resourceVersion = String(++this.rv);
    this.notify('DELETED', plural, o);
  }

  private table(objs: Obj[], withHeaders = true): Obj {
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: String(this.rv) },
      columnDefinitions: withHeaders
        ? [
            { name: 'Name', type: 'string', format: 'name', priority: 0 },
            { name: 'Phase', type: 'string', priority: 0 },
            { name: 'CPU', type: 'integer', priority: 1 },
          ]
        : [],
      rows: objs.map((o) => ({
        cells: [o.metadata.name, o.status?.phase ?? '', o.spec?.cpu ?? null],
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: o.metadata.name, namespace: o.metadata.namespace, resourceVersion: o.metadata.resourceVersion } },
      })),
    };
  }

  private notify(type: string, plural: string, o: Obj): void {
    for (const w of this.watchers) {
      if (w.plural !== plural || (w.ns && w.ns !== o.metadata.namespace) || (w.name && w.name !== o.metadata.name)) continue;
      w.res.write(`${JSON.stringify({ type, object: w.table ? this.table([o], false) : o })}\n`);
    }
  }

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    res.statusCode = code;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  }

  private notFound(res: http.ServerResponse, plural: string, name: string): void {
    this.send(res, 404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${plural}.stratuslab.eu "${name}" not found`, reason: 'NotFound', details: { name, kind: plural }, code: 404 });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      this.log.push(`${req.method} ${u.pathname}${u.search}`);
      if (u.pathname === '/version') return this.send(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-stratus' });
      const m = /^\/apis\/stratuslab\.eu\/v1alpha1(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?$/.exec(u.pathname);
      if (!m) return this.send(res, 404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' });
      const [, ns, plural, name] = m;
      const table = (req.headers.accept ?? '').includes('as=Table');
      const q = u.searchParams;
      const fieldName = /^metadata\.name=(.+)$/.exec(q.get('fieldSelector') ?? '')?.[1];
      if (!name && req.method === 'GET') {
        const items = [...this.objects.values()].filter(
          (o) => o.kind && `${o.kind.toLowerCase()}s` === plural && (!ns || o.metadata.namespace === ns) && (!fieldName || o.metadata.name === fieldName),
        );
        if (q.get('watch') === 'true') {
          res.statusCode = 200;
          res.setHeader('content-type', 'application/json');
          res.flushHeaders();
          if (this.expireWatches > 0) {
            this.expireWatches--;
            res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' } })}\n`);
            return;
          }
          this.watchers.push({ plural, ns, name: fieldName, table, res });
          return;
        }
        if (table) return this.send(res, 200, this.table(items));
        return this.send(res, 200, { kind: 'List', apiVersion: 'stratuslab.eu/v1alpha1', metadata: { resourceVersion: String(this.rv) }, items });
      }
      const k = this.key(plural, ns, name);
      const existing = this.objects.get(k);
      if (req.method === 'GET') {
        if (!existing) return this.notFound(res, plural, name);
        return this.send(res, 200, table ? this.table([existing]) : existing);
      }
      if (req.method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/apply-patch+yaml' || !q.get('fieldManager')) return this.send(res, 415, { kind: 'Status', code: 415, message: 'bad patch' });
        const body = JSON.parse(raw) as Obj;
        const dry = q.get('dryRun') === 'All';
        if (!existing) {
          const obj = { ...body, metadata: { ...body.metadata, uid: `uid-${++this.uid}`, resourceVersion: String(dry ? this.rv : ++this.rv), generation: 1, creationTimestamp: '2024-01-01T00:00:00Z' } };
          if (!dry) {
            this.objects.set(k, obj);
            this.notify('ADDED', plural, obj);
          }
          return this.send(res, 201, obj);
        }
        const changed = JSON.stringify(body.spec) !== JSON.stringify(existing.spec) || JSON.stringify(body.metadata.labels) !== JSON.stringify(existing.metadata.labels);
        if (!changed) return this.send(res, 200, existing);
        const next = { ...existing, spec: body.spec, metadata: { ...existing.metadata, labels: body.metadata.labels, resourceVersion: String(dry ? existing.metadata.resourceVersion : ++this.rv), generation: existing.metadata.generation + 1 } };
        if (!dry) {
          this.objects.set(k, next);
          this.notify('MODIFIED', plural, next);
        }
        return this.send(res, 200, next);
      }
      if (req.method === 'DELETE') {
        if (!existing) return this.notFound(res, plural, name);
        if (existing.metadata.finalizers?.length) {
          existing.metadata.deletionTimestamp = '2024-01-01T00:00:01Z';
          existing.metadata.resourceVersion = String(++this.rv);
          this.notify('MODIFIED', plural, existing);
          return this.send(res, 200, existing);
        }
        this.objects.delete(k);
        this.notify('DELETED', plural, existing);
        return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name } });
      }
      this.send(res, 405, { kind: 'Status', code: 405, reason: 'MethodNotAllowed', message: 'no' });
    });
  }
}

describe('commands against a stub API', () => {
  let api: StubApi;
  let dir: string;
  const s = (): string[] => ['--server', api.url, '-n', 'demo'];
  const manifests = [
    'apiVersion: stratuslab.eu/v1alpha1\nkind: VirtualMachine\nmetadata: {name: web-1, labels: {app: web}, finalizers: [stratuslab.eu/domain]}\nspec: {cpu: 2, memory: 2Gi}\n',
    'apiVersion: stratuslab.eu/v1alpha1\nkind: Project\nmetadata: {name: demo}\nspec: {}\n',
    'apiVersion: stratuslab.eu/v1alpha1\nkind: Foo\nmetadata: {name: nope}\n',
  ].join('---\n');

  beforeEach(async () => {
    api = new StubApi();
    await api.start();
    dir = tmpDir();
    write(path.join(dir, 'all.yaml'), manifests);
  });
  afterEach(async () => {
    await api.stop();
  });

  test('apply: created in dependency order, then unchanged, then configured; a bad object fails the run but not the others', async () => {
    let r = await cli(['apply', '-f', dir, ...s()]);
    expect(r.stdout).toBe('project.stratuslab.eu/demo created\nvirtualmachine.stratuslab.eu/web-1 created\n');
    expect(r.stderr).toBe('error: resource mapping not found for name: "nope" namespace: "" from "' + path.join(dir, 'all.yaml') + '": no matches for kind "Foo" in version "stratuslab.eu/v1alpha1"\n');
    expect(r.code).toBe(1);
    expect(api.log.filter((l) => l.startsWith('PATCH'))).toEqual([
      'PATCH /apis/stratuslab.eu/v1alpha1/projects/demo?fieldManager=stratus',
      'PATCH /apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/web-1?fieldManager=stratus',
    ]);

    const good = write(path.join(dir, 'good', 'vm.yaml'), manifests.split('---\n')[0]);
    r = await cli(['apply', '-f', good, ...s()]);
    expect(r).toEqual({ code: 0, stdout: 'virtualmachine.stratuslab.eu/web-1 unchanged\n', stderr: '' });

    r = await cli(['apply', '-f', '-', '--force-conflicts', ...s()], { stdin: manifests.split('---\n')[0].replace('cpu: 2', 'cpu: 4') });
    expect(r).toEqual({ code: 0, stdout: 'virtualmachine.stratuslab.eu/web-1 configured\n', stderr: '' });
    expect(api.log[api.log.length - 1]).toBe('PATCH /apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/web-1?fieldManager=stratus&force=true');
  });

  test('get: the server\'s Table, -o wide, -o name, -o json single object and List, not found', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    api.setStatus('virtualmachines', 'demo', 'web-1', { phase: 'Running' });
    expect((await cli(['get', 'vm', ...s()])).stdout).toBe('NAME    PHASE\nweb-1   Running\n');
    expect((await cli(['get', 'vm', '-o', 'wide', ...s()])).stdout).toBe('NAME    PHASE     CPU\nweb-1   Running   2\n');
    expect((await cli(['get', 'vm/web-1', ...s()])).stdout).toBe('NAME    PHASE\nweb-1   Running\n');
    expect((await cli(['get', 'vm', '-o', 'name', ...s()])).stdout).toBe('virtualmachine.stratuslab.eu/web-1\n');
    expect(JSON.parse((await cli(['get', 'vm', 'web-1', '-o', 'json', ...s()])).stdout)).toMatchObject({ kind: 'VirtualMachine', spec: { cpu: 2 } });
    expect(JSON.parse((await cli(['get', 'vm', '-o', 'json', ...s()])).stdout)).toMatchObject({ kind: 'List', apiVersion: 'v1', items: [{ metadata: { name: 'web-1' } }] });
    expect((await cli(['get', 'vm', '-o', 'jsonpath={.items[0].status.phase}', ...s()])).stdout).toBe('Running');
    const nf = await cli(['get', 'vm', 'ghost', ...s()]);
    expect(nf).toEqual({ code: 1, stdout: '', stderr: 'Error from server (NotFound): virtualmachines.stratuslab.eu "ghost" not found\n' });
    expect((await cli(['get', 'host', ...s()])).stderr).toBe('No resources found\n');
  });

  test('wait: lists with a field selector, then watches until the condition holds', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    const waiting = cli(['wait', 'vm/web-1', '--for=condition=Ready', '--timeout=10s', ...s()]);
    await new Promise((r) => setTimeout(r, 200));
    api.setStatus('virtualmachines', 'demo', 'web-1', { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False' }] });
    api.setStatus('virtualmachines', 'demo', 'web-1', { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True' }] });
    expect(await waiting).toEqual({ code: 0, stdout: 'virtualmachine.stratuslab.eu/web-1 condition met\n', stderr: '' });
    expect(api.log).toContain('GET /apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines?fieldSelector=metadata.name%3Dweb-1&limit=500');
    expect(api.log.some((l) => l.includes('watch=true') && l.includes('resourceVersion=') && l.includes('fieldSelector=metadata.name%3Dweb-1'))).toBe(true);
  });

  test('wait: a watch closed by the server is resumed from the last seen resourceVersion', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    const waiting = cli(['wait', 'vm/web-1', '--for=condition=Ready', '--timeout=10s', ...s()]);
    await new Promise((r) => setTimeout(r, 200));
    api.setStatus('virtualmachines', 'demo', 'web-1', { conditions: [{ type: 'Ready', status: 'False' }] });
    const seenRv = api.objects.get('virtualmachines/demo/web-1')?.metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 100));
    api.closeWatches();
    await new Promise((r) => setTimeout(r, 300));
    api.setStatus('virtualmachines', 'demo', 'web-1', { conditions: [{ type: 'Ready', status: 'True' }] });
    expect((await waiting).code).toBe(0);
    expect(api.log.some((l) => l.includes('watch=true') && l.includes(`resourceVersion=${seenRv}&`))).toBe(true);
  });

  test('wait: an ERROR 410 Expired event makes it list again', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    api.setStatus('virtualmachines', 'demo', 'web-1', { conditions: [{ type: 'Ready', status: 'False' }] });
    api.expireWatches = 1;
    const waiting = cli(['wait', 'vm/web-1', '--for=condition=Ready', '--timeout=10s', ...s()]);
    await new Promise((r) => setTimeout(r, 300));
    api.setStatus('virtualmachines', 'demo', 'web-1', { conditions: [{ type: 'Ready', status: 'True' }] });
    expect((await waiting).code).toBe(0);
    expect(api.log.filter((l) => l.includes('fieldSelector') && !l.includes('watch=true'))).toHaveLength(2);
  });

  test('wait: times out with kubectl\'s message and exit 1; a missing object fails at once', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    const r = await cli(['wait', 'vm', 'web-1', '--for', 'jsonpath={.status.phase}=Running', '--timeout', '300ms', ...s()]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: timed out waiting for the condition on virtualmachines/web-1\n' });
    const nf = await cli(['wait', 'vm/ghost', '--for=condition=Ready', ...s()]);
    expect(nf.code).toBe(1);
    expect(nf.stderr).toContain('(NotFound)');
  });

  test('delete -f deletes in reverse dependency order; --wait=false does not wait', async () => {
    const f = write(path.join(dir, 'ok', 'ok.yaml'), manifests.split('---\n').slice(0, 2).join('---\n'));
    await cli(['apply', '-f', f, ...s()]);
    const r = await cli(['delete', '-f', f, '--wait=false', ...s()]);
    expect(r).toEqual({ code: 0, stdout: 'virtualmachine.stratuslab.eu "web-1" deleted\nproject.stratuslab.eu "demo" deleted\n', stderr: '' });
    expect(api.log.filter((l) => l.startsWith('DELETE'))).toEqual([
      'DELETE /apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/web-1',
      'DELETE /apis/stratuslab.eu/v1alpha1/projects/demo',
    ]);
  });

  test('get -A lists across projects with a NAMESPACE column', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    await cli(['apply', '-f', '-', '-n', 'prod', '--server', api.url], { stdin: manifests.split('---\n')[0].replace('web-1', 'db-1') });
    const r = await cli(['get', 'vm', '-A', '--server', api.url]);
    expect(r.stdout).toBe('NAMESPACE   NAME    PHASE\ndemo        web-1\nprod        db-1\n');
    expect(api.log[api.log.length - 1]).toBe('GET /apis/stratuslab.eu/v1alpha1/virtualmachines?limit=500');
  });

  test('delete: prints deleted, waits for finalizers, then --ignore-not-found', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    const deleting = cli(['delete', 'vm', 'web-1', '--timeout=10s', ...s()]);
    await new Promise((r) => setTimeout(r, 300));
    expect(api.objects.get('virtualmachines/demo/web-1')?.metadata.deletionTimestamp).toBeDefined();
    api.finalize('virtualmachines', 'demo', 'web-1');
    expect(await deleting).toEqual({ code: 0, stdout: 'virtualmachine.stratuslab.eu "web-1" deleted\n', stderr: '' });
    expect((await cli(['delete', 'vm', 'web-1', ...s()])).code).toBe(1);
    expect(await cli(['delete', '--ignore-not-found', 'vm', 'web-1', ...s()])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await cli(['get', 'vm', 'web-1', '--ignore-not-found=true', ...s()])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('diff: exit 1 with a unified diff when apply would change something, 0 when not', async () => {
    const f = write(path.join(dir, 'vm', 'vm.yaml'), manifests.split('---\n')[0]);
    const created = await cli(['diff', '-f', f, ...s()]);
    // diff only ever sends dry-run writes
    expect(api.log.filter((l) => l.startsWith('PATCH'))).toEqual(['PATCH /apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/web-1?fieldManager=stratus&dryRun=All']);
    expect(api.objects.size).toBe(0);
    expect(created.code).toBe(1);
    expect(created.stdout).toContain('+++ MERGED/stratuslab.eu.v1alpha1.VirtualMachine.demo.web-1\n@@ -0,0 +1,');
    await cli(['apply', '-f', f, ...s()]);
    expect(await cli(['diff', '-f', f, ...s()])).toEqual({ code: 0, stdout: '', stderr: '' });
    write(f, manifests.split('---\n')[0].replace('cpu: 2', 'cpu: 8'));
    const changed = await cli(['diff', '-f', f, ...s()]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain('-  cpu: 2\n+  cpu: 8\n');
    expect(api.objects.get('virtualmachines/demo/web-1')?.spec.cpu).toBe(2);
  });

  test('get -w prints the rows, then a row per change, until --timeout', async () => {
    await cli(['apply', '-f', dir, ...s()]);
    const watching = cli(['get', 'vm', '-w', '--timeout', '1s', ...s()]);
    await new Promise((r) => setTimeout(r, 300));
    api.setStatus('virtualmachines', 'demo', 'web-1', { phase: 'Running' });
    const r = await watching;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('NAME    PHASE\nweb-1\nweb-1   Running\n');
  });

  test('version prints the client and server versions', async () => {
    const r = await cli(['version', ...s()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Client Version: v\d+\.\d+\.\d+\nServer Version: v1\.32\.0-stratus\n$/);
  });
});
