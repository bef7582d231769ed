// Reading manifests for apply/delete/diff: files, directories (always recursive), stdin ("-"),
// multi-document YAML or JSON, `List` expansion, and sorting in dependency order.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ErrorCode, hasCode } from '../errors';
import { ManifestError } from './errors/manifest-error';

export type ManifestObject = Record<string, unknown> & {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: Record<string, unknown>;
};

export interface Manifest {
  object: ManifestObject;
  /** the file it came from ("-" for stdin) */
  source: string;
  /** 1-based position of the document in its file */
  document: number;
}

/** Files taken from a directory. */
export const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** Apply order: what others depend on comes first (a VM names its Images, Volumes, Networks, SecurityGroups). Unknown kinds go last. */
export const KIND_ORDER = ['Project', 'Host', 'Image', 'Volume', 'Network', 'SecurityGroup', 'VirtualMachine'];

/** Aliases allowed in one document (a "billion laughs" document has many more). */
export const MAX_ALIAS_COUNT = 100;

/** Bytes read from one file or stdin at most. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

function describeDoc(source: string, document: number): string {
  return `${source === '-' ? 'stdin' : source} (document ${document})`;
}

/**
 * Parses a YAML/JSON stream of documents. Empty documents are skipped; `List` kinds
 * (`kind: List` or `...List` with `items`) are expanded into their items.
 */
export function parseManifests(text: string, source: string): Manifest[] {
  const label = source === '-' ? 'stdin' : source;
  let docs;
  try {
    docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  } catch (err) {
    throw new ManifestError(`error parsing ${label}: ${(err as Error).message}`);
  }
  if (!Array.isArray(docs)) {
    // an EmptyStream: the text holds no document at all
    return [];
  }
  const out: Manifest[] = [];
  docs.forEach((doc, i) => {
    const n = i + 1;
    if (doc.errors.length > 0) {
      throw new ManifestError(`error parsing ${label}: ${oneLine(doc.errors[0].message)}`);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      throw new ManifestError(`error parsing ${describeDoc(source, n)}: ${oneLine((err as Error).message)}`);
    }
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ManifestError(`error parsing ${describeDoc(source, n)}: expected an object with apiVersion and kind`);
    }
    for (const obj of expandLists(value as ManifestObject, source, n)) {
      checkObject(obj, source, n);
      out.push({ object: obj, source, document: n });
    }
  });
  return out;
}

function oneLine(msg: string): string {
  // the yaml package's pretty errors end with a code excerpt; keep the first line (it has line and column)
  return msg.split('\n')[0].trim();
}

function expandLists(obj: ManifestObject, source: string, n: number): ManifestObject[] {
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  if (Array.isArray(obj.items) && (kind === 'List' || kind.endsWith('List'))) {
    return (obj.items as unknown[]).flatMap((item) => {
      if (item === null || item === undefined) return [];
      if (typeof item !== 'object' || Array.isArray(item)) {
        throw new ManifestError(`error parsing ${describeDoc(source, n)}: List items must be objects`);
      }
      return expandLists(item as ManifestObject, source, n);
    });
  }
  return [obj];
}

function checkObject(obj: ManifestObject, source: string, n: number): void {
  const where = describeDoc(source, n);
  if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') {
    throw new ManifestError(`error validating ${where}: apiVersion not set`);
  }
  if (typeof obj.kind !== 'string' || obj.kind === '') {
    throw new ManifestError(`error validating ${where}: kind not set`);
  }
  if (obj.metadata !== undefined && (typeof obj.metadata !== 'object' || obj.metadata === null || Array.isArray(obj.metadata))) {
    throw new ManifestError(`error validating ${where}: metadata must be an object`);
  }
}

/** Lists the manifest files under a directory, recursively, sorted; dot-files and dot-folders are skipped. */
export async function listManifestFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await fs.stat(p).catch(() => undefined);
        isDir = !!st?.isDirectory();
        isFile = !!st?.isFile();
      }
      if (isDir) await walk(p);
      else if (isFile && MANIFEST_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

export async function readStream(stream: NodeJS.ReadableStream, limit = MAX_MANIFEST_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) throw new ManifestError(`stdin is larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface ReadOptions {
  /** read for "-" */
  stdin?: NodeJS.ReadableStream;
}

/**
 * Reads every manifest named by `-f` arguments, in argument order (files of a directory in
 * name order). Directories are always read recursively (`-R` is accepted for kubectl habits).
 */
export async function readManifests(paths: string[], opts: ReadOptions = {}): Promise<Manifest[]> {
  const out: Manifest[] = [];
  let stdinUsed = false;
  for (const p of paths) {
    if (p === '-') {
      if (stdinUsed) continue;
      stdinUsed = true;
      if (!opts.stdin) throw new ManifestError('cannot read manifests from stdin');
      out.push(...parseManifests(await readStream(opts.stdin), '-'));
      continue;
    }
    if (/^https?:\/\//i.test(p)) throw new ManifestError(`reading manifests from URLs is not supported: ${p}`);
    let st;
    try {
      st = await fs.stat(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ManifestError(`the path "${p}" does not exist${code && code !== 'ENOENT' ? ` (${code})` : ''}`);
    }
    const files = st.isDirectory() ? await listManifestFiles(p) : [p];
    for (const f of files) {
      let text: string;
      try {
        const s = await fs.stat(f);
        if (s.size > MAX_MANIFEST_BYTES) throw new ManifestError(`${f} is larger than ${MAX_MANIFEST_BYTES} bytes`);
        text = await fs.readFile(f, 'utf8');
      } catch (err) {
        if (hasCode(err, ErrorCode.Manifest)) throw err;
        throw new ManifestError(`cannot read ${f}: ${(err as Error).message}`);
      }
      out.push(...parseManifests(text, f));
    }
  }
  return out;
}

function kindRank(kind: unknown): number {
  const i = typeof kind === 'string' ? KIND_ORDER.indexOf(kind) : -1;
  return i < 0 ? KIND_ORDER.length : i;
}

/** Stable sort in apply order (Project, Host, Image, Volume, Network, SecurityGroup, VirtualMachine, others); `reverse` for deletion. */
export function sortByKindOrder<T extends { object: ManifestObject }>(items: T[], reverse = false): T[] {
  return items
    .map((m, i) => ({ m, i }))
    .sort((a, b) => {
      const d = kindRank(a.m.object.kind) - kindRank(b.m.object.kind);
      return (reverse ? -d : d) || a.i - b.i;
    })
    .map((x) => x.m);
}
