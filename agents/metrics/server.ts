/**
 * MetricsServer: the agent's small HTTP endpoint for Prometheus and probes: /metrics (the
 * registry's text format, written by prom-client), /healthz (the process answers) and /readyz
 * (every host runs: lease held, libvirt connected). start(signal) listens until the signal aborts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  registry: Registry;
  /** address to listen on, e.g. 127.0.0.1 or 0.0.0.0 */
  host: string;
  /** 0: any free port (tests) */
  port: number;
  /** /readyz answers 200 while this holds, else 503 with the reason it returns */
  notReady?: () => string | undefined;
  logger?: Logger;
  /** more GET routes (e.g. /debug/domains), tried in order before the 404; true when one answered */
  routes?: ((req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>)[];
}

export class MetricsServer {
  private resolveListening!: (port: number) => void;
  private rejectListening!: (err: Error) => void;
  /** resolves with the port once listening; rejects if it could not listen */
  readonly listening = new Promise<number>((resolve, reject) => {
    this.resolveListening = resolve;
    this.rejectListening = reject;
  });

  constructor(private readonly o: MetricsServerOptions) {
    this.listening.catch(() => undefined); // start() reports the failure
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      const text = await this.o.registry.metrics();
      res.writeHead(200, { 'content-type': this.o.registry.contentType }).end(text);
    } else if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const why = this.o.notReady?.();
      res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' }).end(why ?? 'ok');
    } else {
      for (const route of this.o.routes ?? []) if (await route(req, res)) return;
      res.writeHead(404).end();
    }
  }

  async start(signal: AbortSignal): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.o.logger?.warn({ err: String(err) }, 'serving metrics failed');
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.o.port, this.o.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.rejectListening(err as Error);
      throw err;
    }
    const port = (server.address() as AddressInfo).port;
    this.o.logger?.info({ url: `http://${this.o.host}:${port}/metrics` }, 'metrics listening');
    this.resolveListening(port);
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
