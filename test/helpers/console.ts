// A websocket client of a VM's console through a frontend (…/virtualmachines/NAME/console), for
// tests and benchmarks: send keystrokes, wait for output (expect, pexpect-style), see how it closed.
import fs from 'node:fs';
import WebSocket from 'ws';

export interface ConsoleServerRef {
  /** the frontend's base URL (http or https) */
  url: string;
  /** a bearer token (default user: the frontend's administrator) */
  token: string;
  /** the CA of an https frontend */
  ca?: string;
}

export interface ConsoleClient {
  /** writes to the console (a string as UTF-8) */
  send(data: string | Buffer): void;
  /**
   * Resolves with the first match of `re` in what arrived since the last match (or the start),
   * consuming up to its end; rejects after `timeoutMs` with what arrived, or when the console closes.
   */
  expect(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** everything received so far */
  output(): string;
  /** how the session ended (resolves once closed) */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** A refused upgrade: the HTTP status and the Status object (or text) the frontend answered. */
export class ConsoleRefused extends Error {
  constructor(readonly status: number, readonly body: any) {
    super(`console refused with HTTP ${status}: ${typeof body === 'string' ? body : body?.message}`);
  }
}

/** Opens the console (or `sub`: vnc) of VM `namespace/name`; a refusal rejects with ConsoleRefused. */
export function openConsole(fe: ConsoleServerRef, namespace: string, name: string, opts: { token?: string; sub?: 'console' | 'vnc' } = {}): Promise<ConsoleClient> {
  const url = `${fe.url.replace(/^http/, 'ws')}/apis/stratuslab.eu/v1alpha1/namespaces/${namespace}/virtualmachines/${name}/${opts.sub ?? 'console'}`;
  const ws = new WebSocket(url, ['plain.stratuslab.eu'], {
    headers: { authorization: `Bearer ${opts.token ?? fe.token}` },
    ...(fe.ca ? { ca: fs.readFileSync(fe.ca) } : {}),
  });
  let buf = '';
  let cursor = 0;
  const listeners = new Set<() => void>();
  const decoder = new TextDecoder();
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  let ended: { code: number; reason: string } | undefined;
  ws.on('message', (data: Buffer) => {
    buf += decoder.decode(data, { stream: true });
    for (const l of [...listeners]) l();
  });
  ws.on('close', (code, reason) => {
    ended = { code, reason: reason.toString() };
    resolveClosed(ended);
    for (const l of [...listeners]) l();
  });
  const client: ConsoleClient = {
    send: (data) => ws.send(typeof data === 'string' ? Buffer.from(data) : data, { binary: true }),
    expect(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const flags = re.flags.includes('g') ? re.flags : `${re.flags}g`;
        const check = () => {
          const g = new RegExp(re.source, flags);
          g.lastIndex = cursor;
          const m = g.exec(buf);
          if (m) {
            cursor = m.index + m[0].length;
            done();
            resolve(m);
          } else if (ended) {
            done();
            reject(new Error(`the console closed (${ended.code} ${ended.reason}) before ${re}; received:\n${buf.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${re} on the console within ${timeoutMs} ms; received:\n${buf.slice(-2000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    output: () => buf,
    closed,
    close: () => ws.close(1000),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: any = text;
        try { body = JSON.parse(text); } catch { /* text */ }
        reject(new ConsoleRefused(res.statusCode ?? 0, body));
      });
    });
    ws.on('error', (err) => reject(err));
  });
}
