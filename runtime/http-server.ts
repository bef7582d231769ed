// An HTTP(S) server as a Runnable: listens on start (rejecting when the port cannot be had). When
// the manager stops, it first drains (Drainable): it stops accepting connections, lets the
// requests in flight finish for up to graceMs (the app is told, so /readyz turns false, new
// requests on open connections are refused and watches end), then closes what remains.
// Also the tiny handler of probes a process serves while it is still starting.

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { untilAborted, type Runnable } from './runnable';
import type { Drainable } from './manager';

export interface HttpServerRunnableOptions {
  name?: string;
  /** built but not listening (constructors do no I/O) */
  server: http.Server;
  port: number;
  host?: string;
  logger?: Logger;
  /** what to log once listening, e.g. 'stratus-api listening'; default 'listening' */
  message?: string;
  /** the URL scheme logged; default http */
  scheme?: string;
  /** a path appended to the URL logged, e.g. /metrics */
  path?: string;
  /** how long open connections may take to finish once stopping; default 0 (closed at once) */
  graceMs?: number;
  /** called once when draining begins (readiness false, refuse new requests, end watches) */
  onDrain?: () => void;
}

export class HttpServerRunnable implements Runnable, Drainable {
  readonly name: string;
  private listening = false;
  private draining?: Promise<void>;
  private closed?: Promise<void>;

  constructor(private readonly o: HttpServerRunnableOptions) {
    this.name = o.name ?? 'http-server';
  }

  notReady(): string | undefined {
    return this.draining ? 'shutting down' : undefined;
  }

  async start(signal: AbortSignal): Promise<void> {
    const { server } = this.o;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
    const port = (server.address() as AddressInfo | null)?.port ?? this.o.port;
    this.o.logger?.info({ url: `${this.o.scheme ?? 'http'}://${this.o.host ?? '0.0.0.0'}:${port}${this.o.path ?? ''}` }, this.o.message ?? 'listening');
    await untilAborted(signal);
    await this.drain();
    // In the stop phase: by now the owners of upgraded sockets (consoles) have closed them.
    await this.closed;
  }

  /** Stops accepting, waits up to graceMs for the open connections to end, then closes the rest. */
  drain(): Promise<void> {
    if (!this.listening) return Promise.resolve();
    this.draining ??= this.drainOnce();
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    const { server } = this.o;
    const graceMs = this.o.graceMs ?? 0;
    this.o.onDrain?.();
    // The listening socket closes now (new connections are refused); the callback comes once
    // every open connection has ended.
    this.closed = new Promise<void>((resolve) => server.close(() => resolve()));
    if (graceMs > 0) {
      this.o.logger?.info({ graceMs }, 'draining: finishing the requests in flight');
      // A keep-alive connection whose request has finished is idle: close those as they appear.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      let timer: NodeJS.Timeout | undefined;
      const expired = await Promise.race([
        this.closed.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
      ]);
      clearInterval(sweep);
      clearTimeout(timer);
      if (expired) this.o.logger?.warn({ graceMs }, 'grace period over: closing the connections still open');
    }
    server.closeAllConnections();
    // Upgraded sockets (websockets) are not the server's to close: their owners end them when stopped.
  }
}

/** The probe paths probeHandler answers. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/livez', '/readyz']);

/**
 * The probes of a process (and all a process that is still starting serves): /healthz and /livez
 * 200, /readyz 200 or 503 with the reason `notReady` gives; any other path 503 as a Status.
 */
export function probeHandler(notReady: () => string | undefined): http.RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const why = notReady();
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' }).end(why ?? 'ok');
    } else {
      // As a Kubernetes Status, so clients (kubectl, ours) print the reason and retry.
      const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `the server is not ready: ${why ?? 'starting'}`, reason: 'ServiceUnavailable', code: 503 };
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify(body));
    }
  };
}
