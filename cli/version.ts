// The client version: the `version` of the project's package.json (found from this file's folder,
// so it works both from the TypeScript sources and from dist/).

import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

export function clientVersion(): string {
  if (cached !== undefined) return cached;
  cached = '0.0.0';
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'stratus' && typeof pkg.version === 'string') {
        cached = pkg.version;
        break;
      }
    } catch {
      // not here: look one folder up
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cached;
}
