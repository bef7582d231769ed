// Starts one Cassandra node for the whole test run (unless one already answers), once per run.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

module.exports = async function globalSetup() {
  if (process.env.STRATUS_SKIP_CASSANDRA === '1') return;
  const repo = path.resolve(__dirname, '..');
  const marker = path.join(repo, '.stratus', 'test-started-cassandra');
  // The test node runs without authentication, on purpose: every test file creates and drops its
  // own keyspace and many spawn processes, which would all need a superuser's password; the node
  // listens on 127.0.0.1 only and holds throw-away data. Authentication and the components' roles
  // are covered by test/api/auth-cassandra.test.ts on a second node; `npm run up` has its own node.
  const env = { ...process.env, STRATUS_CASSANDRA_AUTH: '0' };
  let running = true;
  try {
    execFileSync('bash', [path.join(repo, 'scripts/cassandra.sh'), 'status'], { stdio: 'ignore', env });
  } catch {
    running = false;
  }
  if (running) {
    const host = env.STRATUS_CASSANDRA_ADDR || '127.0.0.1';
    let probe = '';
    try {
      probe = execFileSync(process.execPath, [path.join(repo, 'scripts/cassandra-ready.js'), '--host', host, '--port', env.STRATUS_CASSANDRA_PORT || '9042', '--quiet'], { env, encoding: 'utf8' }).trim();
    } catch {
      // not answering CQL yet: the tests will say so
    }
    if (probe === 'authentication required') {
      throw new Error(`the Cassandra node at ${host} requires a password (started with STRATUS_CASSANDRA_AUTH=1); the tests need their node without authentication: stop that node (npm run down, or bash scripts/cassandra.sh stop) and run the tests again`);
    }
  } else {
    process.stderr.write('\nstarting Cassandra for the test run...\n');
    execFileSync('bash', [path.join(repo, 'scripts/cassandra.sh'), 'start'], { stdio: ['ignore', 'inherit', 'inherit'], env });
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, String(Date.now()));
  }
};
