// An HTTP(S) server as a Runnable: listens on start (rejecting when the port cannot be had), and
// when stopped refuses new connections and closes the open ones (watch streams included).

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { untilAborted, type Runnable } from './runnable';

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
}

export class HttpServerRunnable implements Runnable {
  readonly name: string;

  constructor(private readonly o: HttpServerRunnableOptions) {
    this.name = o.name ?? 'http-server';
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
    const port = (server.address() as AddressInfo | null)?.port ?? this.o.port;
    this.o.logger?.info({ url: `${this.o.scheme ?? 'http'}://${this.o.host ?? '0.0.0.0'}:${port}${this.o.path ?? ''}` }, this.o.message ?? 'listening');
    await untilAborted(signal);
    server.closeIdleConnections();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
