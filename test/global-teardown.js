// Stops Cassandra after the run, but only if global-setup started it.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

module.exports = async function globalTeardown() {
  if (process.env.STRATUS_SKIP_CASSANDRA === '1') return;
  const repo = path.resolve(__dirname, '..');
  const marker = path.join(repo, '.stratus', 'test-started-cassandra');
  if (!fs.existsSync(marker) || process.env.STRATUS_KEEP_CASSANDRA === '1') return;
  fs.rmSync(marker);
  execFileSync('bash', [path.join(repo, 'scripts/cassandra.sh'), 'stop'], { stdio: ['ignore', 'inherit', 'inherit'] });
};
