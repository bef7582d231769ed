/**
 * The agent's console server: one per agent process, serving the VMs of its hosts to the frontends
 * (never to users directly), each request authenticated by a short-lived token the frontend mints
 * (kube/console-token.ts: this host, this VM's uid, this channel):
 *   GET /v1/namespaces/NS/virtualmachines/NAME/serial   websocket: the serial console (qemu's socket)
 *   GET /v1/namespaces/NS/virtualmachines/NAME/vnc      websocket: the VNC display (qemu's socket)
 *   GET /v1/namespaces/NS/virtualmachines/NAME/log      the console log, text/plain (?tailLines=N&follow=true)
 * One session per console at a time: a new one takes over and the old one is closed with
 * CONSOLE_CLOSE.takenOver, as KubeVirt's virt-handler does. Errors are Kubernetes Status bodies.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import {
  BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, isStratusError, type StratusError,
} from '../../errors';
import { CONSOLE_CLOSE, verifyConsoleToken, type ConsoleChannel, type ConsoleGrant } from '../../kube/console-token';
import type { DaemonEndpoint } from '../../schemas/types.gen';
import type { VirtualMachineObject } from '../../store';
import { Latch, sleep, systemClock, untilAborted, type Clock, type Runnable } from '../../runtime';
import { bridge, type Bridge } from './bridge';
import type { ConsoleFiles } from './files';
import { copyRange, sizeOf, tailStart } from './log-tail';

export interface ConsoleSession {
  host: string;
  namespace: string;
  name: string;
  uid: string;
  channel: ConsoleChannel;
  user?: string;
}

export interface ConsoleServerOptions {
  /** the address to listen on, e.g. 127.0.0.1 or 0.0.0.0 */
  address: string;
  /** the port; 0 = any free port (reported through `endpoint`) */
  port: number;
  /** the address frontends reach, advertised in each Host's status; default `address`, or the machine's name for a wildcard */
  advertise?: string;
  /** the cluster's console key (store/cluster-secrets.ts) */
  key: Uint8Array;
  /** the hosts this process serves (a token's audience must be one of them) */
  hosts: () => readonly string[];
  /** the VM `namespace/name` bound to `host`, if any */
  vm: (host: string, key: string) => VirtualMachineObject | undefined;
  /** where the VM's console lives on `host` (undefined: not a host of this process) */
  files: (host: string, namespace: string, name: string) => ConsoleFiles | undefined;
  logger: Logger;
  clock?: Clock;
  /** how often a followed log is checked for growth; default 250 ms */
  followPollMs?: number;
  /** told of each console session opened (e.g. to record an event) */
  onSession?: (s: ConsoleSession) => void;
}

const PATH = /^\/v1\/namespaces\/([a-z0-9][-a-z0-9]*)\/virtualmachines\/([a-z0-9][-a-z0-9]*)\/(serial|vnc|log)$/;

function statusBody(err: StratusError): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, code: err.status });
}

function asStratus(err: unknown): StratusError {
  if (isStratusError(err)) return err;
  return new ConflictError(`the console is not available: ${(err as Error).message}`);
}

export class ConsoleServer implements Runnable {
  readonly name = 'console-server';
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly clock: Clock;
  /** the open interactive sessions, by host/namespace/name/channel */
  private readonly sessions = new Map<string, Bridge>();
  private listening?: DaemonEndpoint;
  private readonly listened = new Latch();
  private stopping?: AbortSignal;

  constructor(private readonly o: ConsoleServerOptions) {
    this.clock = o.clock ?? systemClock;
    this.server = http.createServer((req, res) => void this.onRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  }

  /** Resolves true once the server listens (false if `signal` aborts first). */
  waitListening(signal: AbortSignal): Promise<boolean> {
    return this.listened.wait(signal);
  }

  /** Where the frontends reach this server (once it listens). */
  get endpoint(): DaemonEndpoint | undefined {
    return this.listening;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.stopping = signal;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const port = (this.server.address() as net.AddressInfo).port;
    const wildcard = this.o.address === '0.0.0.0' || this.o.address === '::' || this.o.address === '';
    this.listening = { address: this.o.advertise || (wildcard ? hostname() : this.o.address), port };
    this.o.logger.info({ address: this.o.address, port, advertised: this.listening.address }, 'console server listening');
    this.listened.open();
    await untilAborted(signal);
    for (const b of this.sessions.values()) b.close(CONSOLE_CLOSE.ended, 'the agent is stopping');
    this.sessions.clear();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Checks the request's token against its path: what it may open, or a 4xx. */
  private async authorize(req: IncomingMessage): Promise<{ grant: ConsoleGrant; vm: VirtualMachineObject; files: ConsoleFiles }> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const m = PATH.exec(url.pathname);
    if (!m) throw new NotFoundError(`no such path: ${url.pathname}`);
    const [, namespace, name, channel] = m;
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    if (!token) throw new UnauthorizedError('a console token is required (Authorization: Bearer)');
    const grant = await verifyConsoleToken(this.o.key, token, { hosts: this.o.hosts(), nowSec: Math.floor(this.clock.now() / 1000) });
    if (grant.namespace !== namespace || grant.name !== name || grant.channel !== channel) {
      throw new ForbiddenError(`the console token does not grant ${channel} of virtualmachine ${namespace}/${name}`);
    }
    const vm = this.o.vm(grant.host, `${namespace}/${name}`);
    if (!vm || vm.metadata.uid !== grant.uid) throw new NotFoundError(`virtualmachine ${namespace}/${name} is not on host ${grant.host}`);
    const files = this.o.files(grant.host, namespace, name);
    if (!files) throw new NotFoundError(`virtualmachine ${namespace}/${name} is not on host ${grant.host}`);
    return { grant, vm, files };
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method === 'GET' && req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      if (req.method !== 'GET') throw new BadRequestError('only GET is served');
      const { grant, files } = await this.authorize(req);
      if (grant.channel !== 'log') throw new BadRequestError(`the ${grant.channel} console is a websocket: send Upgrade: websocket`);
      await this.serveLog(req, res, grant, files);
    } catch (err) {
      const e = asStratus(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(e.status, { 'content-type': 'application/json', ...(e.status === 401 ? { 'www-authenticate': 'Bearer realm="stratus-agent"' } : {}) }).end(statusBody(e));
    }
  }

  private async serveLog(req: IncomingMessage, res: ServerResponse, grant: ConsoleGrant, files: ConsoleFiles): Promise<void> {
    const q = new URL(req.url ?? '/', 'http://agent').searchParams;
    const tail = q.get('tailLines');
    if (tail !== null && !/^\d{1,9}$/.test(tail)) throw new BadRequestError(`tailLines: Invalid value: "${tail}": must be a non-negative integer`);
    const follow = q.get('follow') === 'true' || q.get('follow') === '1';
    const { start, size } = await tailStart(files.log, tail === null ? undefined : Number(tail));
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    let gone = false;
    res.on('close', () => (gone = true));
    const write = (chunk: Buffer): Promise<void> => new Promise((resolve) => {
      if (gone || res.write(chunk)) resolve();
      else res.once('drain', () => resolve());
    });
    let pos = await copyRange(files.log, start, size, write);
    if (follow) {
      const key = `${grant.namespace}/${grant.name}`;
      const every = this.o.followPollMs ?? 250;
      // Until the caller hangs up, the agent stops, or the VM leaves this host.
      while (!gone && !this.stopping?.aborted) {
        await sleep(this.clock, every, this.stopping).catch(() => undefined);
        const vm = this.o.vm(grant.host, key);
        if (!vm || vm.metadata.uid !== grant.uid) break;
        const now = await sizeOf(files.log);
        if (now < pos) pos = 0; // truncated or replaced
        if (now > pos) pos = await copyRange(files.log, pos, now, write);
      }
    }
    res.end();
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    let grant: ConsoleGrant;
    let target: net.Socket;
    const key = (g: ConsoleGrant) => `${g.host}/${g.namespace}/${g.name}/${g.channel}`;
    try {
      const a = await this.authorize(req);
      grant = a.grant;
      if (grant.channel === 'log') throw new BadRequestError('the log is not a websocket: GET it');
      const path = grant.channel === 'serial' ? a.files.serial : a.files.vnc;
      if (!path) throw new ConflictError(`virtualmachine ${grant.namespace}/${grant.name} has no ${grant.channel === 'vnc' ? 'VNC display' : 'interactive serial console'} on host ${grant.host} (libvirt's test driver has no character devices)`);
      if (grant.channel === 'vnc' && a.vm.spec.console?.type !== 'vnc') {
        throw new ConflictError(`virtualmachine ${grant.namespace}/${grant.name} has no VNC display: set spec.console.type to vnc`);
      }
      // One session at a time: the one there is ends first (qemu serves one client per socket).
      const previous = this.sessions.get(key(grant));
      if (previous) {
        previous.close(CONSOLE_CLOSE.takenOver, 'another console session took over');
        this.sessions.delete(key(grant));
      }
      target = await connectUnix(path).catch((err: NodeJS.ErrnoException) => {
        throw new ConflictError(err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? `virtualmachine ${grant.namespace}/${grant.name} is not running on host ${grant.host}: its ${grant.channel === 'vnc' ? 'VNC display' : 'serial console'} is closed`
          : `the ${grant.channel} console of virtualmachine ${grant.namespace}/${grant.name} cannot be opened: ${err.message}`);
      });
    } catch (err) {
      const e = asStratus(err);
      const body = statusBody(e);
      socket.end(`HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const what = grant.channel === 'vnc' ? 'VNC display' : 'serial console';
      const b = bridge(ws, target, what);
      this.sessions.set(key(grant), b);
      void b.done.then(() => {
        if (this.sessions.get(key(grant)) === b) this.sessions.delete(key(grant));
      });
      this.o.logger.info({ vm: `${grant.namespace}/${grant.name}`, host: grant.host, channel: grant.channel, user: grant.user }, 'console session opened');
      this.o.onSession?.({ host: grant.host, namespace: grant.namespace, name: grant.name, uid: grant.uid, channel: grant.channel, user: grant.user });
    });
  }
}

function connectUnix(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path });
    const fail = (err: Error) => {
      s.destroy();
      reject(err);
    };
    s.once('error', fail);
    s.once('connect', () => {
      s.off('error', fail);
      resolve(s);
    });
  });
}
