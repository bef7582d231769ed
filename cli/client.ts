// The HTTP client of the CLI: a list of API frontends tried in order (fail over only on connection
// errors, never after an HTTP response), bearer token, custom CA, JSON bodies, typed API errors, watch and log streams, websockets (consoles).

import { Agent, fetch, type Response } from 'undici';
import WebSocket from 'ws';
import { ApiError } from './errors/api-error';
import { CliError } from './errors/cli-error';
import { ConnectionError, type ConnectionAttempt } from './errors/connection-error';
import { UsageError } from './errors/usage-error';
import type { WireWatchEvent } from '../kube/wire';

export interface ClientOptions {
  /** base URLs of the frontends, tried in order */
  servers: string[];
  /** sent as `Authorization: Bearer <token>` */
  token?: string;
  /** PEM CA bundle trusted for https servers (default: the system CAs) */
  caPem?: string;
  /** how long to wait for a TCP/TLS connection before failing over (default 5000 ms) */
  connectTimeoutMs?: number;
  /** receives one line per request (for -v); default: none */
  log?: (line: string) => void;
  /** receives server `Warning` headers; default: none */
  warn?: (line: string) => void;
  /** default: stratus/<version> */
  userAgent?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** a JSON-serializable value, or a string sent as is */
  body?: unknown;
  /** default application/json when there is a body */
  contentType?: string;
  /** default application/json */
  accept?: string;
  signal?: AbortSignal;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** One event of a watch stream (kube/wire.ts). */
export type WatchEvent<T = Record<string, unknown>> = WireWatchEvent<T>;

/** Error codes that mean "this server could not be reached": try the next one. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

const MESSAGES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'temporary DNS failure',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  ETIMEDOUT: 'connect timeout',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  UND_ERR_SOCKET: 'connection closed before a response',
};

/** Finds the system error code of a fetch failure (TypeError('fetch failed') with a cause chain). */
export function errorCodeOf(err: unknown): string | undefined {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown): void => {
    if (!e || typeof e !== 'object' || seen.has(e)) return;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const errors = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) errors.forEach(visit);
    visit((e as { cause?: unknown }).cause);
  };
  visit(err);
  return codes.find((c) => CONNECTION_ERROR_CODES.has(c)) ?? codes[codes.length - 1];
}

/** True when a fetch failure happened before any HTTP response: the request may go to the next server. */
export function isConnectionError(err: unknown): boolean {
  const code = errorCodeOf(err);
  return code !== undefined && CONNECTION_ERROR_CODES.has(code);
}

function isAbort(err: unknown, signal?: AbortSignal): boolean {
  const name = (err as { name?: unknown })?.name;
  return !!signal?.aborted || name === 'AbortError' || name === 'TimeoutError';
}

function describeFetchError(err: unknown): string {
  const code = errorCodeOf(err);
  if (code && MESSAGES[code]) return MESSAGES[code];
  // the innermost message is the informative one ("fetch failed" is not); no instanceof: errors
  // made by node's core come from another realm under jest
  let e: unknown = err;
  for (let i = 0; i < 10; i++) {
    const cause = (e as { cause?: unknown })?.cause;
    if (!cause || typeof cause !== 'object' || typeof (cause as { message?: unknown }).message !== 'string') break;
    e = cause;
  }
  const msg = typeof (e as { message?: unknown })?.message === 'string' ? (e as { message: string }).message : String(e);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

export function buildQuery(query?: Query): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === '' || v === false) continue;
    params.append(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  private readonly servers: string[];
  private readonly token?: string;
  private readonly dispatcher: Agent;
  private readonly log?: (line: string) => void;
  private readonly warn?: (line: string) => void;
  private readonly userAgent: string;
  private readonly caPem?: string;
  private readonly connectTimeoutMs: number;
  /** index of the server that answered last: later requests start there */
  private current = 0;

  constructor(opts: ClientOptions) {
    this.servers = opts.servers.map((s) => s.replace(/\/+$/, ''));
    this.token = opts.token;
    this.log = opts.log;
    this.warn = opts.warn;
    this.userAgent = opts.userAgent ?? 'stratus';
    this.caPem = opts.caPem;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.dispatcher = new Agent({
      connect: { timeout: opts.connectTimeoutMs ?? 5000, ...(opts.caPem ? { ca: opts.caPem } : {}) },
      // watch streams may stay silent for a long time
      bodyTimeout: 0,
    });
  }

  /** The server that answered last (or the first one). */
  get currentServer(): string | undefined {
    return this.servers[this.current];
  }

  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }

  /** Sends a request and parses the JSON answer; an HTTP status >= 400 throws an ApiError. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const res = await this.send(method, path, opts);
    const text = await res.text();
    const body = parseBody(text, res.headers.get('content-type'));
    if (res.status >= 400) throw ApiError.fromResponse(res.status, body, res.statusText);
    return { status: res.status, body: body as T };
  }

  async get<T = Record<string, unknown>>(path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.request<T>('GET', path, opts)).body;
  }

  /**
   * Opens a watch (`watch=true` is added) and yields its events until the server closes the
   * stream or the signal aborts. Resuming is the caller's job (see watch.ts).
   */
  async *watch(path: string, opts: RequestOptions = {}): AsyncGenerator<WatchEvent> {
    const res = await this.send('GET', path, { ...opts, query: { ...opts.query, watch: 'true' } });
    if (res.status >= 400) {
      const text = await res.text();
      throw ApiError.fromResponse(res.status, parseBody(text, res.headers.get('content-type')), res.statusText);
    }
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) yield parseEvent(line);
        }
      }
      const rest = (buf + decoder.decode()).trim();
      if (rest) yield parseEvent(rest);
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  /** GETs `path` and yields its body as it arrives (logs); an HTTP status >= 400 throws an ApiError. */
  async *stream(path: string, opts: RequestOptions = {}): AsyncGenerator<Uint8Array> {
    const res = await this.send('GET', path, { accept: 'text/plain, application/json', ...opts });
    if (res.status >= 400) {
      const text = await res.text();
      throw ApiError.fromResponse(res.status, parseBody(text, res.headers.get('content-type')), res.statusText);
    }
    if (!res.body) return;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value) yield value;
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  /**
   * Opens a websocket on `path` (a VM's console), trying the servers in order on connection
   * errors, as requests do; a refusal (403, 409...) throws an ApiError with the server's Status.
   */
  async websocket(path: string, protocols: string[] = []): Promise<WebSocket> {
    if (this.servers.length === 0) throw new ConnectionError([]);
    const attempts: ConnectionAttempt[] = [];
    for (let i = 0; i < this.servers.length; i++) {
      const idx = (this.current + i) % this.servers.length;
      const server = this.servers[idx];
      const url = server.replace(/^http/i, 'ws') + path;
      const started = Date.now();
      try {
        const ws = await new Promise<WebSocket>((resolve, reject) => {
          const headers: Record<string, string> = { 'user-agent': this.userAgent };
          if (this.token) headers.authorization = `Bearer ${this.token}`;
          const s = new WebSocket(url, protocols, { headers, handshakeTimeout: this.connectTimeoutMs, ...(this.caPem ? { ca: this.caPem } : {}), perMessageDeflate: false });
          s.once('open', () => resolve(s));
          s.once('unexpected-response', (_req, res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => reject(ApiError.fromResponse(res.statusCode ?? 0, parseBody(text, res.headers['content-type'] ?? null), res.statusMessage ?? '')));
            res.on('error', reject);
          });
          s.once('error', reject);
        });
        this.current = idx;
        this.log?.(`GET ${url} 101 Switching Protocols in ${Date.now() - started} milliseconds`);
        return ws;
      } catch (err) {
        if (err instanceof ApiError) throw err;
        const code = errorCodeOf(err) ?? 'UNKNOWN';
        const message = describeFetchError(err);
        this.log?.(`GET ${url} failed: ${message}`);
        if (!isConnectionError(err)) throw new ConnectionError([...attempts, { server, errorCode: code, message }]);
        attempts.push({ server, errorCode: code, message });
      }
    }
    throw new ConnectionError(attempts);
  }

  /** Sends with fail-over; returns the Response whatever its status. */
  private async send(method: string, path: string, opts: RequestOptions): Promise<Response> {
    if (this.servers.length === 0) throw new ConnectionError([]);
    const headers: Record<string, string> = {
      accept: opts.accept ?? 'application/json',
      'user-agent': this.userAgent,
    };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    const suffix = path + buildQuery(opts.query);
    const attempts: ConnectionAttempt[] = [];
    for (let i = 0; i < this.servers.length; i++) {
      const idx = (this.current + i) % this.servers.length;
      const server = this.servers[idx];
      const url = server + suffix;
      const started = Date.now();
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body, signal: opts.signal, dispatcher: this.dispatcher });
      } catch (err) {
        if (isAbort(err, opts.signal)) throw err;
        if (/invalid url|failed to parse url/i.test(String((err as { message?: unknown })?.message ?? ''))) {
          throw new UsageError(`invalid server URL "${server}"`);
        }
        const code = errorCodeOf(err) ?? 'UNKNOWN';
        const message = describeFetchError(err);
        this.log?.(`${method} ${url} failed: ${message}`);
        if (!isConnectionError(err)) {
          // e.g. a TLS verification failure: another server would not answer differently
          throw new ConnectionError([...attempts, { server, errorCode: code, message }]);
        }
        attempts.push({ server, errorCode: code, message });
        if (i + 1 < this.servers.length) {
          this.log?.(`failing over to ${this.servers[(idx + 1) % this.servers.length]}`);
        }
        continue;
      }
      this.current = idx;
      this.log?.(`${method} ${url} ${res.status} ${res.statusText} in ${Date.now() - started} milliseconds`);
      const warning = res.headers.get('warning');
      if (warning) for (const w of parseWarnings(warning)) this.warn?.(`Warning: ${w}`);
      return res;
    }
    throw new ConnectionError(attempts);
  }
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  const looksJson = /json/i.test(contentType ?? '') || /^\s*[[{]/.test(text);
  if (!looksJson) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parseEvent(line: string): WatchEvent {
  let ev: unknown;
  try {
    ev = JSON.parse(line);
  } catch {
    throw new CliError(`malformed watch event from the server: ${line.slice(0, 200)}`);
  }
  if (!ev || typeof ev !== 'object' || typeof (ev as WatchEvent).type !== 'string') {
    throw new CliError(`malformed watch event from the server: ${line.slice(0, 200)}`);
  }
  return ev as WatchEvent;
}

/** `299 - "unknown field \"spec.x\""` → `unknown field "spec.x"`. */
export function parseWarnings(header: string): string[] {
  const out: string[] = [];
  const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) out.push(m[1].replace(/\\(.)/g, '$1'));
  return out.length > 0 ? out : [header];
}
