// The CLI configuration (a small kubeconfig): where it lives, how it is parsed, and how the global
// flags override it. The only place of the CLI that reads environment variables.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CliError } from './errors/cli-error';
import { UsageError } from './errors/usage-error';

/** The config file as written by users (`~/.stratus/config.yaml`). */
export interface StratusConfig {
  /** API frontends, tried in order; on a connection error the next one is tried */
  servers: string[];
  token?: string;
  /** path of a PEM CA bundle (relative paths are relative to the config file), or the PEM itself */
  ca?: string;
  /** default project */
  namespace?: string;
}

/** The global flags shared by every command. */
export interface GlobalFlags {
  server?: string;
  token?: string;
  config?: string;
  ca?: string;
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  verbose?: boolean;
}

/** What a command needs to talk to the API, after merging config file, environment and flags. */
export interface Settings {
  servers: string[];
  token?: string;
  /** PEM text of the CA bundle */
  caPem?: string;
  namespace: string;
  /** true when -n/--namespace was given on the command line */
  namespaceFromFlag: boolean;
  allNamespaces: boolean;
  output?: string;
  verbose: boolean;
  configPath: string;
}

export const DEFAULT_NAMESPACE = 'default';

/** Where the config file is: --config, else $STRATUS_CONFIG, else ~/.stratus/config.yaml. */
export function configPathFor(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  homedir: string,
): { path: string; explicit: boolean } {
  if (flag) return { path: path.resolve(flag), explicit: true };
  if (env.STRATUS_CONFIG) return { path: path.resolve(env.STRATUS_CONFIG), explicit: true };
  return { path: path.join(homedir, '.stratus', 'config.yaml'), explicit: false };
}

/** Normalizes a server URL: a bare host:port means https. */
export function normalizeServer(s: string): string {
  const t = s.trim().replace(/\/+$/, '');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `https://${t}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new UsageError(`invalid server URL "${s}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError(`invalid server URL "${s}": the scheme must be http or https`);
  }
  return withScheme;
}

/** Splits `--server a,b` (or a YAML list) into normalized URLs. */
export function parseServers(value: string | string[]): string[] {
  const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  return parts.map((p) => p.trim()).filter((p) => p !== '').map(normalizeServer);
}

/** Parses the text of a config file; `source` names it in errors. */
export function parseConfig(text: string, source: string): StratusConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 50 });
  } catch (err) {
    throw new CliError(`error parsing config file ${source}: ${(err as Error).message}`);
  }
  if (raw === null || raw === undefined) return { servers: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CliError(`error parsing config file ${source}: expected a mapping`);
  }
  const r = raw as Record<string, unknown>;
  const cfg: StratusConfig = { servers: [] };
  const servers = r.servers ?? r.server;
  if (servers !== undefined && servers !== null) {
    if (typeof servers !== 'string' && !(Array.isArray(servers) && servers.every((s) => typeof s === 'string'))) {
      throw new CliError(`error parsing config file ${source}: "servers" must be a list of URLs`);
    }
    try {
      cfg.servers = parseServers(servers as string | string[]);
    } catch (err) {
      throw new CliError(`error parsing config file ${source}: ${(err as Error).message}`);
    }
  }
  for (const key of ['token', 'ca', 'namespace'] as const) {
    const v = r[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new CliError(`error parsing config file ${source}: "${key}" must be a string`);
    cfg[key] = v;
  }
  return cfg;
}

/** Reads the config file; a missing default file is an empty config, a missing explicit one an error. */
export async function loadConfig(location: { path: string; explicit: boolean }): Promise<StratusConfig> {
  let text: string;
  try {
    text = await fs.readFile(location.path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !location.explicit) return { servers: [] };
    throw new CliError(`cannot read config file ${location.path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseConfig(text, location.path);
}

/** Reads a CA bundle: inline PEM as is, else a file (relative to the config file's folder). */
export async function loadCa(ca: string, baseDir: string): Promise<string> {
  if (ca.includes('-----BEGIN')) return ca;
  const p = path.resolve(baseDir, ca);
  try {
    return await fs.readFile(p, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read CA file ${p}: ${(err as Error).message}`);
  }
}

/** Merges config file, environment and flags into the settings commands use. */
export async function resolveSettings(
  flags: GlobalFlags,
  env: Record<string, string | undefined>,
  homedir: string,
): Promise<Settings> {
  const location = configPathFor(flags.config, env, homedir);
  const cfg = await loadConfig(location);
  const servers = flags.server ? parseServers(flags.server) : cfg.servers;
  let caPem: string | undefined;
  if (flags.ca) caPem = await loadCa(flags.ca, process.cwd());
  else if (cfg.ca) caPem = await loadCa(cfg.ca, path.dirname(location.path));
  const ns = stripEquals(flags.namespace);
  return {
    servers,
    token: flags.token ?? cfg.token,
    caPem,
    namespace: ns || cfg.namespace || DEFAULT_NAMESPACE,
    namespaceFromFlag: !!ns,
    allNamespaces: !!flags.allNamespaces,
    output: stripEquals(flags.output),
    verbose: !!flags.verbose,
    configPath: location.path,
  };
}

/** `-o=wide` reaches us as "=wide"; kubectl users type it. */
export function stripEquals(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  return v.startsWith('=') ? v.slice(1) : v;
}
