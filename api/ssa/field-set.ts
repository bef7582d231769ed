// FieldSet: a set of field paths (`['spec', 'cpu']`), the unit of ownership in managedFields.
// Paths are arrays of field names, so keys containing dots or slashes (labels) stay unambiguous.

export type FieldPath = readonly string[];

function keyOf(path: FieldPath): string {
  return JSON.stringify(path);
}

/** Prints a path the way Kubernetes prints it in conflicts: `.spec.disks`, `.metadata.labels.app`. */
export function formatPath(path: FieldPath): string {
  return path.map((segment) => `.${segment}`).join('');
}

/** Orders paths element by element, a prefix before its extensions. */
export function comparePaths(a: FieldPath, b: FieldPath): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

function isStrictPrefix(prefix: FieldPath, path: FieldPath): boolean {
  if (prefix.length >= path.length) return false;
  return prefix.every((segment, i) => path[i] === segment);
}

/** An immutable-by-convention set of field paths: the operations return new sets. */
export class FieldSet implements Iterable<FieldPath> {
  private readonly members = new Map<string, FieldPath>();

  constructor(paths: Iterable<FieldPath> = []) {
    for (const p of paths) this.members.set(keyOf(p), [...p]);
  }

  get size(): number {
    return this.members.size;
  }

  isEmpty(): boolean {
    return this.members.size === 0;
  }

  has(path: FieldPath): boolean {
    return this.members.has(keyOf(path));
  }

  /** Whether some member lies strictly below `path` (e.g. `.spec.placement.policy` below `.spec.placement`). */
  hasDescendantOf(path: FieldPath): boolean {
    for (const p of this.members.values()) if (isStrictPrefix(path, p)) return true;
    return false;
  }

  /** Adds in place; only for building a set before handing it out. */
  add(path: FieldPath): this {
    this.members.set(keyOf(path), [...path]);
    return this;
  }

  union(other: FieldSet): FieldSet {
    return new FieldSet([...this, ...other]);
  }

  difference(other: FieldSet): FieldSet {
    return this.filter((p) => !other.has(p));
  }

  intersection(other: FieldSet): FieldSet {
    return this.filter((p) => other.has(p));
  }

  filter(keep: (path: FieldPath) => boolean): FieldSet {
    return new FieldSet([...this].filter(keep));
  }

  equals(other: FieldSet): boolean {
    if (this.size !== other.size) return false;
    for (const k of this.members.keys()) if (!other.members.has(k)) return false;
    return true;
  }

  /** The members in a stable order (see comparePaths). */
  paths(): FieldPath[] {
    return [...this.members.values()].sort(comparePaths);
  }

  [Symbol.iterator](): Iterator<FieldPath> {
    return this.members.values();
  }

  toString(): string {
    return this.paths().map(formatPath).join(', ');
  }
}
