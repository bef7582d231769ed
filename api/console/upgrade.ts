// WebSocket upgrades through the Koa app: the node server's 'upgrade' requests run through the same
// middleware as any request (request id, authentication, rate limits, errors as Status objects); a
// route that accepts one takes its socket (takeUpgrade), any other answer is written and closes it.

import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface PendingUpgrade {
  socket: Duplex;
  head: Buffer;
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();

/** The 'upgrade' listener of a node server whose requests `callback` (Koa's app.callback()) serves. */
export function upgradeListener(callback: (req: IncomingMessage, res: http.ServerResponse) => void): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => undefined);
    pending.set(req, { socket, head });
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    // Answered over HTTP (an error, or a route that takes no upgrade): the connection ends there.
    res.on('finish', () => {
      if (!pending.has(req)) return;
      pending.delete(req);
      res.detachSocket(socket as Socket);
      socket.end();
    });
    callback(req, res);
  };
}

/** Whether `req` came through upgradeListener and its socket is still to be taken. */
export function isUpgrade(req: IncomingMessage): boolean {
  return pending.has(req);
}

/** Takes the socket of an upgrade request: the caller now owns it (Koa must not answer: ctx.respond = false). */
export function takeUpgrade(req: IncomingMessage): PendingUpgrade | undefined {
  const u = pending.get(req);
  pending.delete(req);
  return u;
}
