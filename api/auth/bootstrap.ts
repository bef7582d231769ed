// stratus-bootstrap: makes the first administrator, straight in Cassandra (no API token exists
// yet), and prints a new token of theirs on stdout. `npm run up` runs it once; operators run it
// when every administrator token is lost. Needs the frontends' Cassandra settings (STRATUS_*).
//
//   node dist/api/auth/bootstrap.js [--user admin] [--group stratus:admins]... [--ttl 720h]

import { loadApiConfig } from '../../config';
import { createCassandraClient, migrate } from '../../store';
import { TokenRepository } from '../../store/tokens';
import { parseTtl } from './routes';
import { TokenStore, type IssuedToken } from './token-store';
import { ErrorCode, hasCode } from '../../errors';

export interface BootstrapOptions {
  /** the users and tokens tables */
  tokens: TokenRepository;
  user?: string;
  groups?: string[];
  ttlSec?: number;
  description?: string;
}

/** Ensures the user exists with the groups (added to what it has) and issues a token. */
export async function bootstrapAdmin(o: BootstrapOptions): Promise<IssuedToken> {
  const tokens = new TokenStore({ repository: o.tokens });
  const user = o.user ?? 'admin';
  const groups = o.groups ?? ['stratus:admins'];
  const existing = await tokens.getUser(user, { serial: true });
  if (!existing) {
    await tokens.createUser({ name: user, groups, description: 'created by stratus-bootstrap', createdBy: 'stratus-bootstrap' }).catch((err) => {
      if (!hasCode(err, ErrorCode.AlreadyExists)) throw err;
    });
  }
  const cur = await tokens.getUser(user, { serial: true });
  if (cur && (cur.disabled || groups.some((g) => !cur.groups.includes(g)))) {
    await tokens.updateUser(user, { groups: [...new Set([...cur.groups, ...groups])], disabled: false });
  }
  return tokens.issueToken({ user, source: 'local', ttlSec: o.ttlSec ?? 30 * 86400, description: o.description ?? 'stratus-bootstrap', createdBy: 'stratus-bootstrap' });
}

function parseArgs(argv: string[]): { user?: string; groups: string[]; ttlSec?: number } {
  const out: { user?: string; groups: string[]; ttlSec?: number } = { groups: [] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--user') out.user = value();
    else if (flag === '--group') out.groups.push(value());
    else if (flag === '--ttl') out.ttlSec = parseTtl(value());
    else throw new Error(`unknown argument ${argv[i]} (use --user NAME, --group GROUP, --ttl DURATION)`);
  }
  return out;
}

export async function main(): Promise<void> {
  try {
    const args = parseArgs(process.argv.slice(2));
    const cfg = loadApiConfig();
    const client = createCassandraClient({ ...cfg.cassandra, keyspace: undefined });
    await client.connect();
    try {
      await migrate({ client, keyspace: cfg.cassandra.keyspace, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec });
      const issued = await bootstrapAdmin({ tokens: new TokenRepository({ client, keyspace: cfg.cassandra.keyspace }), user: args.user, groups: args.groups.length ? args.groups : undefined, ttlSec: args.ttlSec });
      process.stderr.write(`stratus-bootstrap: token ${issued.id} for user "${issued.user}" expires ${issued.expiresAt}\n`);
      process.stdout.write(`${issued.token}\n`);
    } finally {
      await client.shutdown();
    }
  } catch (err) {
    process.stderr.write(`stratus-bootstrap: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

if (require.main === module) void main();
