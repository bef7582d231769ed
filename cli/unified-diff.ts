// A line-based unified diff (Myers' O(ND) algorithm), as `diff -u` prints it, for `stratus diff`.

export type DiffOp = { t: ' ' | '-' | '+'; line: string };

/** The shortest edit script turning `a` into `b`, as a sequence of kept, removed and added lines. */
export function diffLines(a: string[], b: string[]): DiffOp[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // walk the trace back from (n, m)
  const ops: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[off + k - 1] < vd[off + k + 1]) ? k + 1 : k - 1;
    const prevX = vd[off + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ t: ' ', line: a[x - 1] });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) ops.push({ t: '+', line: b[y - 1] });
      else ops.push({ t: '-', line: a[x - 1] });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function range(start: number, len: number): string {
  // diff -u: an empty range starts at the line before it
  const s = len === 0 ? start : start + 1;
  return len === 1 ? `${s}` : `${s},${len}`;
}

/**
 * A unified diff of two texts with `context` lines around changes; '' when they are equal.
 * Labels go on the `---` and `+++` lines.
 */
export function unifiedDiff(oldText: string, newText: string, oldLabel: string, newLabel: string, context = 3): string {
  const ops = diffLines(splitLines(oldText), splitLines(newText));
  if (!ops.some((o) => o.t !== ' ')) return '';
  // position in old and new before each op
  const aPos: number[] = [];
  const bPos: number[] = [];
  let ai = 0;
  let bi = 0;
  for (const o of ops) {
    aPos.push(ai);
    bPos.push(bi);
    if (o.t !== '+') ai++;
    if (o.t !== '-') bi++;
  }
  aPos.push(ai);
  bPos.push(bi);

  let out = `--- ${oldLabel}\n+++ ${newLabel}\n`;
  let i = 0;
  while (i < ops.length) {
    if (ops[i].t === ' ') {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i + 1; // exclusive end of the last change in the hunk
    let j = i + 1;
    while (j < ops.length) {
      if (ops[j].t !== ' ') {
        end = j + 1;
        j++;
        continue;
      }
      let r = j;
      while (r < ops.length && ops[r].t === ' ') r++;
      if (r < ops.length && r - j <= 2 * context) {
        j = r;
        continue;
      }
      break;
    }
    const stop = Math.min(ops.length, end + context);
    const hunk = ops.slice(start, stop);
    const aLen = hunk.filter((o) => o.t !== '+').length;
    const bLen = hunk.filter((o) => o.t !== '-').length;
    out += `@@ -${range(aPos[start], aLen)} +${range(bPos[start], bLen)} @@\n`;
    for (const o of hunk) out += `${o.t}${o.line}\n`;
    i = stop;
  }
  return out;
}
