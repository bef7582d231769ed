#!/usr/bin/env node
// One readiness probe of a Cassandra node, used by scripts/cassandra.sh.
//
//   node scripts/cassandra-ready.js [--host 127.0.0.1] [--port 9042] [--peers N] [--timeout-ms 4000]
//
// Connects to that one node only (no other host is queried), runs
// `SELECT release_version FROM system.local` and, with --peers N, checks that
// system.peers_v2 on that node lists at least N other nodes.
// Exit 0 and print the release version when ready; exit 1 (reason on stderr) otherwise.
// A node with authentication on (STRATUS_CASSANDRA_AUTH=1) that asks for credentials is
// answering CQL: it counts as ready ("authentication required" is printed instead of a version).
// Listing peers needs a login there: the probe tries STRATUS_CASSANDRA_USER/_PASSWORD, then the
// operator role of scripts/cassandra-roles.js ($STRATUS_CASSANDRA_CREDENTIALS/stratus_admin.env),
// then the default superuser cassandra/cassandra (a fresh cluster, before the roles script ran).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const cassandra = require('cassandra-driver');

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 9042, peers: 0, timeoutMs: 4000, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--host') opts.host = next();
    else if (a === '--port') opts.port = Number(next());
    else if (a === '--peers') opts.peers = Number(next());
    else if (a === '--timeout-ms') opts.timeoutMs = Number(next());
    else if (a === '--quiet' || a === '-q') opts.quiet = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

/** Logins to try, in order, when the node asks for credentials. */
function credentials(env = process.env) {
  const out = [];
  if (env.STRATUS_CASSANDRA_USER) out.push([env.STRATUS_CASSANDRA_USER, env.STRATUS_CASSANDRA_PASSWORD || '']);
  if (env.STRATUS_CASSANDRA_CREDENTIALS) {
    try {
      const text = fs.readFileSync(path.join(env.STRATUS_CASSANDRA_CREDENTIALS, 'stratus_admin.env'), 'utf8');
      const m = /^STRATUS_CASSANDRA_PASSWORD=(.*)$/m.exec(text);
      if (m) out.push(['stratus_admin', m[1]]);
    } catch {
      // no operator role yet
    }
  }
  out.push(['cassandra', 'cassandra']);
  return out;
}

const isAuthError = (e) => Object.values((e && e.innerErrors) || {}).some((x) => x && x.name === 'AuthenticationError');

async function probe(opts) {
  if (opts.peers === 0) {
    try {
      return await probeAs(opts);
    } catch (e) {
      if (isAuthError(e)) return 'authentication required';
      throw e;
    }
  }
  let last;
  for (const login of [undefined, ...credentials()]) {
    try {
      return await probeAs(opts, login);
    } catch (e) {
      if (!isAuthError(e)) throw e;
      last = e;
    }
  }
  throw new Error(`authentication required and no known login was accepted to list peers (set STRATUS_CASSANDRA_CREDENTIALS or STRATUS_CASSANDRA_USER): ${String(last.message).split('\n')[0]}`);
}

async function probeAs(opts, login) {
  const endpoint = `${opts.host}:${opts.port}`;
  const lbp = new cassandra.policies.loadBalancing.AllowListPolicy(
    new cassandra.policies.loadBalancing.RoundRobinPolicy(),
    [endpoint],
  );
  const client = new cassandra.Client({
    contactPoints: [endpoint],
    localDataCenter: 'datacenter1',
    policies: {
      loadBalancing: lbp,
      reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(60000),
    },
    pooling: { warmup: false },
    authProvider: login ? new cassandra.auth.PlainTextAuthProvider(login[0], login[1]) : undefined,
    socketOptions: { connectTimeout: opts.timeoutMs, readTimeout: opts.timeoutMs },
  });
  try {
    await client.connect();
    const local = await client.execute('SELECT release_version FROM system.local');
    const version = local.first() && local.first().release_version;
    if (!version) throw new Error('system.local returned no release_version');
    if (opts.peers > 0) {
      const rs = await client.execute('SELECT peer FROM system.peers_v2');
      const peers = rs.rows.map((r) => String(r.peer));
      if (peers.length < opts.peers) {
        throw new Error(`system.peers_v2 lists ${peers.length} peer(s) [${peers.join(', ')}], want ${opts.peers}`);
      }
    }
    return version;
  } finally {
    await client.shutdown().catch(() => {});
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`cassandra-ready: ${e.message}\n`);
    process.exit(2);
  }
  // Hard stop in case the driver hangs somewhere.
  const guard = setTimeout(() => {
    if (!opts.quiet) process.stderr.write('cassandra-ready: timed out\n');
    process.exit(1);
  }, opts.timeoutMs * 3);
  guard.unref();
  try {
    const version = await probe(opts);
    process.stdout.write(`${version}\n`);
    process.exit(0);
  } catch (e) {
    if (!opts.quiet) process.stderr.write(`cassandra-ready: ${opts.host}:${opts.port} not ready: ${String(e.message).split('\n')[0]}\n`);
    process.exit(1);
  }
}

main();
