#!/usr/bin/env node
// Prints the Image manifest of a guest built by build-image.sh: its disk (source.path and sha256),
// format, virtual size, and kernel, initrd and command line for direct kernel boot (from image.json).
//
//   node scripts/guest/image-manifest.js FOLDER [--name NAME] [--namespace NS] [-o yaml|json]
//   npm run --silent image:build | xargs node scripts/guest/image-manifest.js | stratus apply -f -
//
// Defaults: the name in image.json (debian-12), namespace demo, YAML. The agents verify the sum.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const YAML = require('yaml');

const BINARY = [['Ei', 2 ** 60], ['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]];

/** Bytes as a Kubernetes quantity: the largest binary suffix that divides it (2147483648 -> 2Gi). */
function quantity(bytes) {
  for (const [suffix, factor] of BINARY) if (bytes % factor === 0) return `${bytes / factor}${suffix}`;
  return String(bytes);
}

function fail(message) {
  process.stderr.write(`image-manifest: ${message}\n`);
  process.exit(2);
}

/** The manifest of the build in `folder` (absolute), or throws saying what is wrong with it. */
function manifest(folder, { name, namespace }) {
  const info = JSON.parse(fs.readFileSync(path.join(folder, 'image.json'), 'utf8'));
  const file = (f) => {
    const p = path.join(folder, f);
    if (!fs.statSync(p).isFile()) throw new Error(`${p} is not a file`);
    return p;
  };
  const disk = file(info.disk);
  const sumFile = `${disk}.sha256`;
  const sha256 = info.sha256;
  if (!/^[0-9a-f]{64}$/.test(sha256 ?? '')) throw new Error(`image.json has no sha256`);
  if (fs.existsSync(sumFile) && fs.readFileSync(sumFile, 'utf8').trim() !== sha256) {
    throw new Error(`${sumFile} and image.json disagree on the sha256`);
  }
  const spec = { source: { path: disk, sha256 }, format: info.format };
  if (Number.isInteger(info.virtualSize) && info.virtualSize > 0) spec.size = quantity(info.virtualSize);
  if (info.kernel) {
    spec.kernel = file(info.kernel);
    if (info.initrd) spec.initrd = file(info.initrd);
    if (info.cmdline) spec.cmdline = info.cmdline;
  }
  const labels = { os: 'debian', release: '12' };
  if (info.recipe) labels['stratuslab.eu/recipe'] = String(info.recipe);
  return {
    apiVersion: 'stratuslab.eu/v1alpha1',
    kind: 'Image',
    metadata: { name: name ?? info.name, namespace, labels },
    spec,
  };
}

function main() {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        namespace: { type: 'string', default: 'demo' },
        output: { type: 'string', short: 'o', default: 'yaml' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(err.message);
  }
  if (args.values.help) {
    process.stdout.write('usage: image-manifest.js FOLDER [--name NAME] [--namespace NS] [-o yaml|json]\n');
    return;
  }
  if (args.positionals.length !== 1) fail('give the folder build-image.sh printed (one argument)');
  const { output } = args.values;
  if (output !== 'yaml' && output !== 'json') fail(`-o must be yaml or json, not ${output}`);
  let m;
  try {
    m = manifest(path.resolve(args.positionals[0]), args.values);
  } catch (err) {
    fail(`${args.positionals[0]}: ${err.message}`);
  }
  process.stdout.write(output === 'json' ? `${JSON.stringify(m, null, 2)}\n` : YAML.stringify(m));
}

if (require.main === module) main();

module.exports = { manifest, quantity };
