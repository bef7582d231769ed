// `npm run bench`: every benchmark that exists, one after another, as one JSON document.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'bench');
const out = {};
for (const name of ['api', 'libvirt', 'agent', 'placement', 'ipam', 'guest', 'hostnet']) {
  const file = path.join(dist, `${name}.js`);
  if (!fs.existsSync(file)) continue;
  process.stderr.write(`bench: ${name}\n`);
  const text = execFileSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  out[name] = JSON.parse(text);
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
