#!/usr/bin/env node
// Cassandra roles of the Stratus components, for a node started with STRATUS_CASSANDRA_AUTH=1
// (PasswordAuthenticator + CassandraAuthorizer), which `npm run up` does by default and then runs
// this script. Idempotent: run it again after upgrades (new tables).
//
//   node scripts/cassandra-roles.js          (after `npm run build`: it applies the migrations from dist/)
//   node scripts/cassandra-roles.js --admin  (step 1 only: `npm run up` then migrates as stratus_admin
//                                             with `npm run migrate`, and runs this script again for step 3)
//
// 1. Logs in as the operator role stratus_admin (its password file), or the first time as the
//    default superuser cassandra/cassandra, and creates stratus_admin (superuser; for operators,
//    migrations and this script only). In a cluster, checks that system_auth (roles, passwords,
//    permissions) is replicated on min(3, nodes) nodes, and fixes it if not (see ensureAuthReplication).
// 2. Applies the schema migrations as stratus_admin (components' roles may not create tables).
// 3. Creates the login roles stratus_frontend, stratus_controllers, stratus_agents, each with a
//    random password and only SELECT/MODIFY on the tables that component uses. Users of Stratus
//    have no Cassandra role at all: they reach the data only through the API.
// 4. Disables the default superuser: `cassandra` gets a random password, LOGIN = false.
// Each role's credentials are written to $STRATUS_CASSANDRA_CREDENTIALS/<role>.env (mode 0600) as
// STRATUS_CASSANDRA_USER=... and STRATUS_CASSANDRA_PASSWORD=..., with the contact points
// (STRATUS_CASSANDRA=...), ready for `set -a; . file; set +a` before running a tool as that role.
//
// Environment: STRATUS_CASSANDRA (contact points, default 127.0.0.1:9042), STRATUS_CASSANDRA_DC,
// STRATUS_KEYSPACE (default stratus), STRATUS_REPLICATION, STRATUS_CASSANDRA_CREDENTIALS
// (default <repo>/.stratus/cassandra).
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const cassandra = require('cassandra-driver');

const REPO = path.resolve(__dirname, '..');
const CONTACT = (process.env.STRATUS_CASSANDRA || '127.0.0.1:9042').split(',').map((s) => s.trim()).filter(Boolean);
const DC = process.env.STRATUS_CASSANDRA_DC || 'datacenter1';
const KS = process.env.STRATUS_KEYSPACE || 'stratus';
const RF = Number(process.env.STRATUS_REPLICATION || 1);
const DIR = process.env.STRATUS_CASSANDRA_CREDENTIALS || path.join(REPO, '.stratus', 'cassandra');

const RW = ['SELECT', 'MODIFY'];
const R = ['SELECT'];
/** The object store and change feed every component uses. */
const COMMON = {
  schema_migrations: R, settings: RW, objects: RW, object_names: RW, object_namespaces: RW, feed: RW, field_index: RW,
};
/** Tables per component role: only what it reads (SELECT) and writes (MODIFY; LWTs need both). */
const ROLES = {
  stratus_frontend: {
    ...COMMON, users: RW, tokens: RW, token_ids: RW, tokens_by_user: RW, quota_usage: RW, quota_leases: RW, audit_log: RW,
    // the key of console tokens (store/cluster-secrets.ts): created with an LWT by the first frontend or agent
    cluster_secrets: RW,
    // read-only: what agents measure, served by `stratus top` and `stratus usage` (api/routes-metrics.ts)
    host_samples_latest: R, vm_samples_latest: R, usage_hourly: R,
    // read-only: the Events the controllers and agents record (store/events.ts), served at /api/v1
    events: R,
  },
  stratus_controllers: {
    ...COMMON, host_leases: R, host_samples: R, host_samples_latest: R, events: RW,
  },
  stratus_agents: {
    ...COMMON, host_leases: RW, host_samples: RW, vm_samples: RW, host_samples_latest: RW, vm_samples_latest: RW, usage_hourly: RW, cluster_secrets: RW, events: RW,
  },
};
const ADMIN = 'stratus_admin';

function log(msg) {
  process.stderr.write(`cassandra-roles: ${msg}\n`);
}

function client(user, password) {
  return new cassandra.Client({
    contactPoints: CONTACT,
    localDataCenter: DC,
    authProvider: new cassandra.auth.PlainTextAuthProvider(user, password),
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum, serialConsistency: cassandra.types.consistencies.localSerial, prepare: true },
    socketOptions: { connectTimeout: 5000, readTimeout: 20000 },
  });
}

function readEnv(role) {
  try {
    const text = fs.readFileSync(path.join(DIR, `${role}.env`), 'utf8');
    const m = /^STRATUS_CASSANDRA_PASSWORD=(.*)$/m.exec(text);
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

function writeEnv(role, password) {
  fs.mkdirSync(DIR, { recursive: true, mode: 0o700 });
  const file = path.join(DIR, `${role}.env`);
  fs.writeFileSync(`${file}.tmp`, `STRATUS_CASSANDRA=${CONTACT.join(',')}\nSTRATUS_CASSANDRA_USER=${role}\nSTRATUS_CASSANDRA_PASSWORD=${password}\n`, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

const newPassword = () => crypto.randomBytes(24).toString('base64url');

/** Runs a role statement; Cassandra refuses password changes closer than a few seconds apart: wait and retry. */
async function roleStatement(c, cql) {
  for (let i = 0; ; i++) {
    try {
      return await c.execute(cql);
    } catch (e) {
      if (!/can only be changed every/i.test(String(e.message)) || i > 20) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function roleExists(c, role) {
  const rs = await c.execute('SELECT role FROM system_auth.roles WHERE role = ?', [role], { prepare: true });
  return rs.rowLength > 0;
}

/** Creates a role, or brings an existing one to this password and these options. */
async function ensureRole(c, role, password, options) {
  if (await roleExists(c, role)) await roleStatement(c, `ALTER ROLE ${role} WITH PASSWORD = ${quote(password)} AND ${options}`);
  else await roleStatement(c, `CREATE ROLE IF NOT EXISTS ${role} WITH PASSWORD = ${quote(password)} AND ${options}`);
}
const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

async function connectAsSuperuser() {
  const known = readEnv(ADMIN);
  const deadline = Date.now() + 90_000;
  for (;;) {
    for (const [user, password] of [[ADMIN, known], ['cassandra', 'cassandra']]) {
      if (!password) continue;
      const c = client(user, password);
      try {
        await c.connect();
        return { c, user };
      } catch (e) {
        await c.shutdown().catch(() => {});
        if (Date.now() > deadline) throw new Error(`cannot log in as ${ADMIN} nor as the default superuser: ${String(e.message).split('\n')[0]}`);
      }
    }
    // The default superuser is created shortly after the first start.
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The replication factor of a keyspace in datacenter DC, from its system_schema row. */
function replicationOf(replication) {
  const r = replication || {};
  return Number(String(r.class).endsWith('SimpleStrategy') ? r.replication_factor : (r[DC] ?? r.replication_factor ?? 0));
}

/**
 * Cassandra creates system_auth with one replica: in a cluster each role would then live on one node
 * only, and logins fail while that node is down. scripts/cassandra.sh starts a fresh cluster with
 * min(3, nodes) replicas; a cluster started otherwise is altered here. There is no nodetool repair in
 * this setup, so the rows written before are written again (roles here, permissions by the grants
 * below) to reach every replica. Returns true when it altered the keyspace.
 */
async function ensureAuthReplication(c) {
  const nodes = c.getState().getConnectedHosts().length || 1;
  const peers = (await c.execute('SELECT peer FROM system.peers_v2')).rowLength;
  const want = Math.min(3, Math.max(nodes, peers + 1));
  const ks = (await c.execute("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'system_auth'")).first();
  const have = replicationOf(ks && ks.replication);
  if (have >= want) return false;
  log(`system_auth has ${have} replica(s) on a cluster of ${peers + 1} nodes: altering it to ${want}`);
  await c.execute(`ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', '${DC}': ${want}}`);
  return true;
}

async function main() {
  const adminOnly = process.argv.includes('--admin');
  const unknown = process.argv.slice(2).filter((a) => a !== '--admin');
  if (unknown.length) throw new Error(`unknown argument ${unknown[0]} (usage: cassandra-roles.js [--admin])`);
  let { c, user } = await connectAsSuperuser();
  log(`logged in as ${user}`);
  if (user === 'cassandra') {
    const password = readEnv(ADMIN) || newPassword();
    await ensureRole(c, ADMIN, password, 'SUPERUSER = true AND LOGIN = true');
    writeEnv(ADMIN, password);
    await c.shutdown();
    // Log in as the new superuser (it may take a moment to be visible to the authenticator).
    for (let i = 0; ; i++) {
      c = client(ADMIN, password);
      try {
        await c.connect();
        break;
      } catch (e) {
        await c.shutdown().catch(() => {});
        if (i > 30) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    log(`created the operator role ${ADMIN}`);
  }
  try {
    if (await ensureAuthReplication(c)) {
      // Write the known roles again so that every replica has them.
      await ensureRole(c, ADMIN, readEnv(ADMIN), 'LOGIN = true'); // (a role may not change its own superuser status)
      for (const role of Object.keys(ROLES)) {
        if (readEnv(role) && (await roleExists(c, role))) await ensureRole(c, role, readEnv(role), 'LOGIN = true AND SUPERUSER = false');
      }
    }
    if (adminOnly) {
      log(`operator role ${ADMIN} ready (credentials in ${DIR}/${ADMIN}.env)`);
      return;
    }
    // The schema, as the operator (components' roles cannot create tables).
    const { migrate } = require(path.join(REPO, 'dist/store/migrations.js'));
    const ran = await migrate({ client: c, keyspace: KS, replicationFactor: RF });
    if (ran.length) log(`applied migrations ${ran.join(', ')} to keyspace ${KS}`);

    const rs = await c.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [KS], { prepare: true });
    const tables = new Set(rs.rows.map((r) => r.table_name));
    const granted = new Set();
    for (const [role, perTable] of Object.entries(ROLES)) {
      const password = readEnv(role) || newPassword();
      const existed = await roleExists(c, role);
      // A role that lost its file gets a new password.
      if (!existed || !readEnv(role)) await ensureRole(c, role, password, 'LOGIN = true AND SUPERUSER = false');
      // Start from nothing, then grant exactly the list (a table dropped from the list loses its grant).
      await c.execute(`REVOKE ALL PERMISSIONS ON KEYSPACE ${KS} FROM ${role}`);
      for (const t of tables) await c.execute(`REVOKE ALL PERMISSIONS ON TABLE ${KS}.${t} FROM ${role}`);
      for (const [table, perms] of Object.entries(perTable)) {
        if (!tables.has(table)) {
          log(`warning: table ${KS}.${table} does not exist (yet); ${role} gets no grant on it`);
          continue;
        }
        for (const p of perms) await c.execute(`GRANT ${p} ON TABLE ${KS}.${table} TO ${role}`);
        granted.add(table);
      }
      writeEnv(role, password);
      log(`role ${role}: ${Object.keys(perTable).filter((t) => tables.has(t)).length} tables`);
    }
    for (const t of tables) {
      if (!granted.has(t) && t !== 'schema_lock') log(`note: no component role may use ${KS}.${t}; add it to scripts/cassandra-roles.js if one needs it`);
    }
    // The well-known default superuser must not stay usable.
    if (user === 'cassandra' || (await c.execute("SELECT can_login FROM system_auth.roles WHERE role = 'cassandra'")).first()?.can_login) {
      await roleStatement(c, `ALTER ROLE cassandra WITH PASSWORD = ${quote(newPassword())} AND SUPERUSER = false AND LOGIN = false`);
      log('disabled the default superuser "cassandra"');
    }
    log(`credentials are in ${DIR}/<role>.env`);
  } finally {
    await c.shutdown();
  }
}

main().catch((e) => {
  log(String(e && e.message ? e.message : e).split('\n')[0]);
  process.exit(1);
});
