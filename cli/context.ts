// What every command runs with: its input/output streams, the merged settings, and a lazily
// created API client (closed by main when the command ends).

import * as os from 'node:os';
import { ApiClient } from './client';
import { execForeground } from './exec';
import { resolveSettings, type GlobalFlags, type Settings } from './config';
import { parseOutputFormat, type OutputFormat } from './output';
import { clientVersion } from './version';

export interface Writer {
  write(chunk: string): unknown;
}

/** The outside world of one CLI run; tests pass their own. */
export interface CliIO {
  stdout: Writer;
  stderr: Writer;
  stdin: NodeJS.ReadableStream;
  env: Record<string, string | undefined>;
  homedir: string;
  /** aborting it ends long-running commands (get -w, wait) early */
  signal?: AbortSignal;
  /** current time in ms (for ages) */
  now: () => number;
  /** runs a program with the terminal (ssh, scp) and resolves to its exit code */
  exec: (file: string, args: string[]) => Promise<number>;
}

export function defaultIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    homedir: os.homedir(),
    now: Date.now,
    exec: execForeground,
  };
}

export class CommandContext {
  readonly io: CliIO;
  readonly settings: Settings;
  private apiClient?: ApiClient;

  constructor(io: CliIO, settings: Settings) {
    this.io = io;
    this.settings = settings;
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }

  /** Writes a line (newline added) to stderr. */
  errLine(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** The namespace for namespaced objects without one (-n, else the config, else "default"). */
  get namespace(): string {
    return this.settings.namespace;
  }

  get allNamespaces(): boolean {
    return this.settings.allNamespaces;
  }

  /** Parses -o against the formats this command supports. */
  output(allowed?: string[]): OutputFormat {
    return parseOutputFormat(this.settings.output, allowed);
  }

  get client(): ApiClient {
    if (!this.apiClient) {
      this.apiClient = new ApiClient({
        servers: this.settings.servers,
        token: this.settings.token,
        caPem: this.settings.caPem,
        log: this.settings.verbose ? (l) => this.errLine(l) : undefined,
        warn: (l) => this.errLine(l),
        userAgent: `stratus/${clientVersion()}`,
      });
    }
    return this.apiClient;
  }

  /** A note on stderr when -v is given. */
  verbose(text: string): void {
    if (this.settings.verbose) this.errLine(text);
  }

  async close(): Promise<void> {
    await this.apiClient?.close();
  }
}

/** Runs a command body with a context built from the command's flags; main records the exit code. */
export type CommandRunner = (cmd: import('commander').Command, body: (ctx: CommandContext) => Promise<number>) => Promise<void>;

export async function createContext(flags: GlobalFlags, io: CliIO): Promise<CommandContext> {
  return new CommandContext(io, await resolveSettings(flags, io.env, io.homedir));
}
