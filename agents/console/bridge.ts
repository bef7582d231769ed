/**
 * One console session: a websocket bridged to a qemu character device's unix socket (serial
 * console or VNC display), bytes both ways with backpressure; when either side ends, so does the
 * other, the websocket with a close code and reason saying why.
 */
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { CONSOLE_CLOSE } from '../../kube/console-token';

/** Stop reading the unix socket while this much waits to go out on the websocket. */
const HIGH_WATER = 1024 * 1024;

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export interface Bridge {
  /** ends the session: closes the websocket with `code` and `reason`, and the unix socket */
  close(code: number, reason: string): void;
  /** resolves once both sides are closed */
  readonly done: Promise<void>;
}

export function bridge(ws: WebSocket, sock: Socket, what: string): Bridge {
  let closed = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const close = (code: number, reason: string): void => {
    if (closed) return;
    closed = true;
    sock.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason.slice(0, 120));
    else ws.terminate();
  };
  let paused = false;
  sock.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true }, () => {
      if (paused && ws.bufferedAmount < HIGH_WATER / 2) {
        paused = false;
        sock.resume();
      }
    });
    if (!paused && ws.bufferedAmount > HIGH_WATER) {
      paused = true;
      sock.pause();
    }
  });
  ws.on('message', (data) => {
    if (closed) return;
    if (!sock.write(toBuffer(data))) {
      ws.pause();
      sock.once('drain', () => ws.resume());
    }
  });
  sock.on('end', () => close(CONSOLE_CLOSE.ended, `the ${what} closed: the domain stopped`));
  sock.on('error', (err) => close(CONSOLE_CLOSE.unavailable, `the ${what} failed: ${err.message}`));
  sock.on('close', () => close(CONSOLE_CLOSE.ended, `the ${what} closed`));
  ws.on('close', () => {
    close(CONSOLE_CLOSE.ended, '');
    resolveDone();
  });
  ws.on('error', () => close(CONSOLE_CLOSE.unavailable, 'websocket error'));
  return { close, done };
}
