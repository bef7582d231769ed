// Starts one Cassandra node for the whole test run (unless one already answers), once per run.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

module.exports = async function globalSetup() {
  if (process.env.STRATUS_SKIP_CASSANDRA === '1') return;
  const repo = path.resolve(__dirname, '..');
  const marker = path.join(repo, '.stratus', 'test-started-cassandra');
  let running = true;
  try {
    execFileSync('bash', [path.join(repo, 'scripts/cassandra.sh'), 'status'], { stdio: 'ignore' });
  } catch {
    running = false;
  }
  if (!running) {
    process.stderr.write('\nstarting Cassandra for the test run...\n');
    execFileSync('bash', [path.join(repo, 'scripts/cassandra.sh'), 'start'], { stdio: ['ignore', 'inherit', 'inherit'] });
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, String(Date.now()));
  }
};
