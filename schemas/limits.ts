// How large an object may be, as Kubernetes bounds it: 1.5 MiB stored (etcd's default request
// limit) and 256 KiB for all annotations (apimachinery's TotalAnnotationSizeLimitB). Pure.

/** The most bytes an object may take as stored (its JSON), as etcd's default --max-request-bytes. */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;

/** The most bytes all of an object's annotations may take: keys and values together. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** The size of annotations as Kubernetes counts it: the UTF-8 bytes of every key and value. */
export function annotationsBytes(annotations: unknown): number {
  if (annotations === null || typeof annotations !== 'object' || Array.isArray(annotations)) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    n += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
  }
  return n;
}

/**
 * The field that takes the most room in an object, with its size as JSON: what to name when the
 * object is too large. A top-level field (`spec`), or its child when that is at least half of it
 * (`metadata.labels`, `status.consoleLog`).
 */
export function largestField(obj: unknown): { field: string; bytes: number } {
  const largest = (v: unknown, path: string): { field: string; bytes: number } | undefined => {
    if (v === null || typeof v !== 'object') return undefined;
    let best: { field: string; bytes: number } | undefined;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const bytes = Buffer.byteLength(JSON.stringify(x) ?? '');
      const field = path === '' ? k : Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`;
      if (!best || bytes > best.bytes) best = { field, bytes };
    }
    return best;
  };
  const top = largest(obj, '');
  if (!top) return { field: '', bytes: Buffer.byteLength(JSON.stringify(obj) ?? '') };
  // The child when it is most of its parent (annotations in metadata), else the parent (a long list).
  const child = largest((obj as Record<string, unknown>)[top.field], top.field);
  return child && child.bytes * 2 >= top.bytes ? child : top;
}
