// An interactive console session on a websocket, as `virsh console` and telnet do it: the terminal in
// raw mode (every key, Ctrl-C included, goes to the guest), an escape key (default Ctrl-]) that
// detaches, the terminal restored whatever happens. With stdin not a terminal, its bytes go as they
// are and the session ends once they did and the console has been quiet for a moment.

import type WebSocket from 'ws';
import { CONSOLE_CLOSE } from '../kube/console-token';
import { UsageError } from './errors/usage-error';
import type { Writer } from './context';

export interface ConsoleSessionIO {
  stdin: NodeJS.ReadableStream;
  stdout: Writer;
  stderr: Writer;
  /** aborting it detaches */
  signal?: AbortSignal;
}

export interface ConsoleSessionOptions {
  /** what is attached, for the messages, e.g. "virtualmachine web-1" */
  what: string;
  /** the byte that detaches (default 0x1d, Ctrl-]); undefined: none */
  escape?: number;
  /** stdin not a terminal: how long the console must stay quiet once the input ended; default 2000 ms */
  quietMs?: number;
}

/** `^]` → 0x1d, `^A` → 0x01, `none` → undefined (no escape key). */
export function parseEscape(s: string): number | undefined {
  if (s === 'none') return undefined;
  const m = /^\^([@A-Z[\\\]^_])$/i.exec(s);
  if (!m) throw new UsageError(`--escape must be ^X (a control key, e.g. ^] or ^A) or none, got "${s}"`);
  return m[1].toUpperCase().charCodeAt(0) - 64;
}

/** How an escape byte reads: 0x1d → "^]". */
export function escapeName(b: number): string {
  return `^${String.fromCharCode(b + 64)}`;
}

interface RawTty {
  isTTY?: boolean;
  setRawMode?: (raw: boolean) => unknown;
}

/** Runs the session until it ends; resolves to the exit code (0: detached or the console ended). */
export function runConsoleSession(ws: WebSocket, io: ConsoleSessionIO, o: ConsoleSessionOptions): Promise<number> {
  const stdin = io.stdin as NodeJS.ReadableStream & RawTty;
  const tty = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  const escape = tty ? o.escape : undefined;
  const nl = tty ? '\r\n' : '\n';
  const decoder = new TextDecoder();
  io.stderr.write(`Connected to ${o.what}.${nl}`);
  if (escape !== undefined) io.stderr.write(`Escape character is ${escapeName(escape)}: type it to detach.${nl}`);

  return new Promise<number>((resolve) => {
    let detached = false;
    let inputEnded = false;
    let quiet: NodeJS.Timeout | undefined;
    const armQuiet = () => {
      if (!inputEnded) return;
      clearTimeout(quiet);
      quiet = setTimeout(() => detach(), o.quietMs ?? 2000);
    };
    const detach = () => {
      if (detached) return;
      detached = true;
      if (ws.readyState === ws.OPEN) ws.close(CONSOLE_CLOSE.ended, 'detached');
      // Do not wait long for the server's answer to the close.
      setTimeout(() => ws.terminate(), 1000).unref();
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const at = escape === undefined ? -1 : b.indexOf(escape);
      const send = at < 0 ? b : b.subarray(0, at);
      if (send.length > 0 && ws.readyState === ws.OPEN) ws.send(send, { binary: true });
      if (at >= 0) detach();
    };
    const onEnd = () => {
      inputEnded = true;
      armQuiet();
    };
    const onAbort = () => detach();
    const cleanup = () => {
      clearTimeout(quiet);
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      io.signal?.removeEventListener('abort', onAbort);
      if (tty) {
        try {
          stdin.setRawMode!(false);
        } catch { /* the terminal is gone */ }
      }
      stdin.pause();
    };

    ws.on('message', (data: Buffer) => {
      io.stdout.write(decoder.decode(data, { stream: true }));
      armQuiet();
    });
    ws.once('close', (code: number, reasonBuf: Buffer) => {
      cleanup();
      const reason = reasonBuf.toString();
      if (detached) {
        if (tty) io.stderr.write(`${nl}Detached from ${o.what}.${nl}`);
        return resolve(0);
      }
      if (code === CONSOLE_CLOSE.takenOver) {
        io.stderr.write(`${nl}Console closed: ${reason || 'another console session took over'}.${nl}`);
        return resolve(1);
      }
      if (code === 1000 || code === 1001) {
        io.stderr.write(`${nl}Console closed${reason ? `: ${reason}` : ''}.${nl}`);
        return resolve(0);
      }
      io.stderr.write(`${nl}Console closed unexpectedly (${code}${reason ? ` ${reason}` : ''}).${nl}`);
      resolve(1);
    });
    ws.on('error', () => undefined); // 'close' follows and reports

    if (tty) stdin.setRawMode!(true);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
    if (io.signal?.aborted) detach();
    else io.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
