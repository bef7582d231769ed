// `stratus describe KIND [NAME...]`: a readable, sectioned view of objects (metadata, spec,
// status with a conditions table), a Network's leases, and their Events (core/v1, read as kubectl
// describe reads them).

import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { formatError } from '../errors/format';
import { UsageError } from '../errors/usage-error';
import { listObjects, type Obj } from '../list';
import { formatTable } from '../output';
import { namedRefs, parseTargets, resourcePath, type KindInfo } from '../resources';
import { noResourcesMessage } from './get';
import { EVENT_KIND, eventFrom, eventInterval, lastSeen, type EventObject } from '../../kube/events';

const ACRONYMS = new Set(['uid', 'uuid', 'cpu', 'ip', 'url', 'api', 'id', 'vm', 'os', 'cidr', 'dns', 'mac', 'mtu', 'vni', 'vlan']);

/** `runStrategy` → `Run Strategy`, `domainUUID` → `Domain UUID`, `uid` → `UID` (as kubectl's describe). */
export function titleCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .split(' ')
    .map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(' ');
}

/** Maps whose keys are user data (label keys), printed as they are. */
const VERBATIM_KEYS = /(^|[a-z])(Labels|labels|Annotations|annotations)$|^(host|node)Selector$/;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  return String(v);
}

function isPlainObject(v: unknown): v is Obj {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Renders a value tree, keys title-cased, values aligned per level, lists with "- ". */
function renderTree(obj: Obj, indent: number, lines: string[], titled = true): void {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined);
  const label = (k: string): string => `${titled ? titleCase(k) : k}:`;
  const width = Math.max(0, ...entries.filter(([, v]) => !isComplex(v)).map(([k]) => label(k).length));
  const pad = ' '.repeat(indent);
  for (const [k, v] of entries) {
    if (isComplex(v)) {
      lines.push(`${pad}${label(k)}`);
      if (isPlainObject(v) && VERBATIM_KEYS.test(k)) renderTree(v, indent + 2, lines, false);
      else renderValue(v, indent + 2, lines, true);
    } else {
      lines.push(`${pad}${label(k).padEnd(width + 2)}${scalar(v)}`.replace(/\s+$/, ''));
    }
  }
}

function isComplex(v: unknown): boolean {
  return (Array.isArray(v) && v.length > 0) || (isPlainObject(v) && Object.keys(v).length > 0);
}

function renderValue(v: unknown, indent: number, lines: string[], titled: boolean): void {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isPlainObject(item) && Object.keys(item).length > 0) {
        const sub: string[] = [];
        renderTree(item, indent + 2, sub, titled);
        // the first line of each item carries the list marker
        sub[0] = `${pad}- ${sub[0].slice(indent + 2)}`;
        lines.push(...sub);
      } else if (Array.isArray(item)) {
        lines.push(`${pad}-`);
        renderValue(item, indent + 2, lines, titled);
      } else {
        lines.push(`${pad}${scalar(item)}`);
      }
    }
  } else if (isPlainObject(v)) {
    renderTree(v, indent, lines, titled);
  } else {
    lines.push(`${pad}${scalar(v)}`);
  }
}

function keyValueLines(label: string, map: unknown, sep: string, width: number): string[] {
  const entries = isPlainObject(map) ? Object.entries(map) : [];
  const head = `${label}:`.padEnd(width);
  if (entries.length === 0) return [`${head}<none>`];
  return entries.map(([k, v], i) => `${i === 0 ? head : ' '.repeat(width)}${k}${sep}${scalar(v)}`);
}

/** The conditions of a status as a small table (Type, Status, Reason, Message, Last Transition Time). */
export function conditionsTable(conditions: unknown[], indent: number): string[] {
  const cols: Array<[string, string]> = [
    ['Type', 'type'],
    ['Status', 'status'],
    ['Reason', 'reason'],
    ['Message', 'message'],
    ['Last Transition Time', 'lastTransitionTime'],
  ];
  const rows = conditions.filter(isPlainObject);
  const used = cols.filter(([, f], i) => i < 2 || rows.some((r) => r[f] !== undefined && r[f] !== ''));
  const headers = used.map(([h]) => h);
  const dashes = used.map(([h]) => '-'.repeat(h.length));
  const body = rows.map((r) => used.map(([, f]) => (r[f] === undefined ? '' : scalar(r[f]))));
  return formatTable(headers, [dashes, ...body], 2)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => `${' '.repeat(indent)}${l}`);
}

/** The describe text of one object. */
export function describeObject(obj: Obj, kind?: KindInfo): string {
  const md = isPlainObject(obj.metadata) ? obj.metadata : {};
  const W = 14;
  const lines: string[] = [];
  lines.push(`${'Name:'.padEnd(W)}${scalar(md.name ?? '')}`);
  if (kind?.namespaced ?? md.namespace !== undefined) lines.push(`${'Namespace:'.padEnd(W)}${scalar(md.namespace ?? '')}`);
  lines.push(...keyValueLines('Labels', md.labels, '=', W));
  lines.push(...keyValueLines('Annotations', md.annotations, ': ', W));
  lines.push(`${'API Version:'.padEnd(W)}${scalar(obj.apiVersion ?? '')}`);
  lines.push(`${'Kind:'.padEnd(W)}${scalar(obj.kind ?? kind?.kind ?? '')}`);

  const rest: Obj = {};
  for (const [k, v] of Object.entries(md)) {
    if (['name', 'namespace', 'labels', 'annotations', 'managedFields'].includes(k)) continue;
    rest[k] = v;
  }
  if (Object.keys(rest).length > 0) {
    lines.push('Metadata:');
    renderTree(rest, 2, lines);
  }
  for (const [k, v] of Object.entries(obj)) {
    if (['apiVersion', 'kind', 'metadata', 'status'].includes(k)) continue;
    if (isComplex(v)) {
      lines.push(`${titleCase(k)}:`);
      renderValue(v, 2, lines, true);
    } else {
      lines.push(`${`${titleCase(k)}:`.padEnd(W)}${v === undefined ? '' : scalar(v)}`);
    }
  }
  const status = obj.status;
  if (isPlainObject(status) && Object.keys(status).length > 0) {
    lines.push('Status:');
    const { conditions, ...others } = status;
    if (Array.isArray(conditions) && conditions.length > 0) {
      lines.push('  Conditions:');
      lines.push(...conditionsTable(conditions, 4));
    }
    renderTree(others, 2, lines);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The Events section of an object's description (kubectl's DescribeEvents): oldest first, with
 * Type, Reason, Age ("2m (x3 over 10m)" when repeated), From and Message; "<none>" when there are
 * none; nothing when they could not be read (undefined).
 */
export function describeEvents(events: readonly Obj[] | undefined, now: number): string {
  if (events === undefined) return '';
  if (events.length === 0) return `${'Events:'.padEnd(14)}<none>\n`;
  const sorted = [...events].map((e) => e as unknown as EventObject).sort((a, b) => lastSeen(a) - lastSeen(b));
  const headers = ['Type', 'Reason', 'Age', 'From', 'Message'];
  const rows = sorted.map((e) => [scalar(e.type ?? ''), scalar(e.reason ?? ''), eventInterval(e, now), eventFrom(e), scalar(e.message ?? '').trim()]);
  const table = formatTable(headers, [['----', '------', '----', '----', '-------'], ...rows], 2); // kubectl's underlines
  return `Events:\n${table.split('\n').filter((l) => l !== '').map((l) => `  ${l}`).join('\n')}\n`;
}

/**
 * The Leases section of a Network's description: who holds which address (ADDRESS, VM, INTERFACE,
 * MAC, in address order as the API sends them); "<none>" when nobody; nothing when they could not be
 * read (undefined).
 */
export function describeLeases(leases: readonly Obj[] | undefined): string {
  if (leases === undefined) return '';
  if (leases.length === 0) return `${'Leases:'.padEnd(14)}<none>\n`;
  const headers = ['Address', 'VM', 'Interface', 'MAC'];
  const rows = leases.map((l) => [scalar(l.address ?? ''), scalar(l.vm ?? ''), scalar(l.interface ?? ''), scalar(l.mac ?? '')]);
  const table = formatTable(headers, [['-------', '--', '---------', '---'], ...rows], 2);
  return `Leases:\n${table.split('\n').filter((l) => l !== '').map((l) => `  ${l}`).join('\n')}\n`;
}

/** A Network's leases (GET …/networks/NAME/leases; undefined when they cannot be read). */
async function leasesOf(ctx: CommandContext, kind: KindInfo, obj: Obj): Promise<Obj[] | undefined> {
  const md = isPlainObject(obj.metadata) ? obj.metadata : {};
  try {
    const list = await ctx.client.get<Obj>(resourcePath(kind, { namespace: scalar(md.namespace ?? ''), name: scalar(md.name ?? ''), subresource: 'leases' }));
    return Array.isArray(list.items) ? (list.items as Obj[]) : undefined;
  } catch {
    return undefined;
  }
}

/** The Events of one object, as kubectl describe asks for them (undefined when they cannot be read). */
async function eventsOf(ctx: CommandContext, kind: KindInfo, obj: Obj): Promise<Obj[] | undefined> {
  const md = isPlainObject(obj.metadata) ? obj.metadata : {};
  const namespace = kind.namespaced && typeof md.namespace === 'string' ? md.namespace : undefined;
  const selector = [
    `involvedObject.name=${scalar(md.name ?? '')}`, `involvedObject.namespace=${namespace ?? ''}`, `involvedObject.kind=${kind.kind}`,
    ...(typeof md.uid === 'string' ? [`involvedObject.uid=${md.uid}`] : []),
  ].join(',');
  try {
    return (await listObjects(ctx.client, { kind: EVENT_KIND, namespace, fieldSelector: selector })).items;
  } catch {
    return undefined;
  }
}

export async function describeCommand(ctx: CommandContext, args: string[], opts: { selector?: string }): Promise<number> {
  const targets = parseTargets(args);
  const named = targets.form === 'refs' || targets.names.length > 0;
  if (named && opts.selector) throw new UsageError('selectors cannot be used when passing resource names');
  const ns = ctx.allNamespaces ? undefined : ctx.namespace;
  const items: Array<{ kind: KindInfo; obj: Obj }> = [];
  const errors: unknown[] = [];
  if (named) {
    if (ctx.allNamespaces) throw new UsageError('a resource cannot be retrieved by name across all namespaces');
    for (const r of namedRefs(targets)) {
      try {
        items.push({ kind: r.kind, obj: await ctx.client.get<Obj>(resourcePath(r.kind, { namespace: ns, name: r.name })) });
      } catch (err) {
        errors.push(err);
      }
    }
  } else {
    for (const kind of (targets as { kinds: KindInfo[] }).kinds) {
      const list = await listObjects(ctx.client, { kind, namespace: ns, labelSelector: opts.selector });
      for (const obj of list.items) items.push({ kind, obj });
    }
    if (items.length === 0) ctx.errLine(noResourcesMessage((targets as { kinds: KindInfo[] }).kinds, ns));
  }
  const texts: string[] = [];
  for (const i of items) {
    const events = i.kind === EVENT_KIND ? undefined : await eventsOf(ctx, i.kind, i.obj);
    const leases = i.kind.kind === 'Network' ? describeLeases(await leasesOf(ctx, i.kind, i.obj)) : '';
    texts.push(describeObject(i.obj, i.kind) + leases + describeEvents(events, ctx.io.now()));
  }
  ctx.out(texts.join('\n'));
  for (const e of errors) ctx.errLine(formatError(e));
  return errors.length > 0 ? 1 : 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('describe')
    .summary('Show details of objects')
    .description('Show details of objects: KIND NAME..., KIND/NAME..., or KIND (all of them, or -l)')
    .argument('<kind>', 'kind, or KIND/NAME')
    .argument('[names...]', 'object names')
    .option('-l, --selector <selector>', 'label selector')
    .action(async (kind: string, names: string[], opts: { selector?: string }, cmd: Command) =>
      run(cmd, (ctx) => describeCommand(ctx, [kind, ...names], opts)),
    );
}
