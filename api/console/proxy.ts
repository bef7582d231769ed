// The frontend's side of consoles: finds the agent of a VM's host (the Host's
// status.daemonEndpoints.console), mints a short-lived token for that host, VM and channel
// (kube/console-token.ts), and relays: a websocket to the agent's serial console or VNC display,
// or the agent's console log stream. The agent's refusals come back as Status errors.

import http, { type IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import {
  BadRequestError, ConflictError, NotFoundError, ServiceUnavailableError, isStratusError, type StratusError,
} from '../../errors';
import { CONSOLE_CLOSE, mintConsoleToken, type ConsoleChannel } from '../../kube/console-token';
import type { DaemonEndpoint } from '../../schemas/types.gen';
import type { HostObject, ObjectStore, VirtualMachineObject } from '../../store';
import { systemClock, type Clock } from '../../runtime';
import type { PendingUpgrade } from './upgrade';

/** The subresources of a VM this proxies, and the agent's channel for each. */
export type ConsoleSubresource = 'console' | 'vnc' | 'log';
const CHANNEL: Record<ConsoleSubresource, ConsoleChannel> = { console: 'serial', vnc: 'vnc', log: 'log' };

/** Subprotocols a client may ask for: ours, and websockify's "binary" (noVNC). */
const PROTOCOLS = ['plain.stratuslab.eu', 'binary'];
/** Stop reading one side while this much waits to go out on the other. */
const HIGH_WATER = 1024 * 1024;

export interface ConsoleProxyOptions {
  store: ObjectStore;
  /** the cluster's console key (store/cluster-secrets.ts); none: consoles answer 503 */
  key?: Uint8Array;
  logger: Logger;
  clock?: Clock;
  /** how long the agent may take to answer; default 10 000 ms */
  connectTimeoutMs?: number;
}

export interface ConsoleTarget {
  vm: VirtualMachineObject;
  host: string;
  endpoint: DaemonEndpoint;
  channel: ConsoleChannel;
}

const vmName = (name: string) => `virtualmachines.stratuslab.eu "${name}"`;

function rawToBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A close code that may be sent on (1005 and 1006 are only ever reported, never sent). */
function sendableCode(code: number): number {
  return code === 1000 || (code >= 1001 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : CONSOLE_CLOSE.ended;
}

export class ConsoleProxy {
  private readonly clock: Clock;
  private readonly wss: WebSocketServer;
  /** open client sessions, closed when the frontend stops */
  private readonly sessions = new Set<WebSocket>();

  constructor(private readonly o: ConsoleProxyOptions) {
    this.clock = o.clock ?? systemClock;
    this.wss = new WebSocketServer({
      noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024,
      handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
  }

  /**
   * The agent serving `sub` of VM `namespace/name`, or why not: 404 (no such VM), 409 (not running;
   * for the log: never placed on a host), 503 (its host advertises no console server).
   */
  async target(namespace: string, name: string, sub: ConsoleSubresource): Promise<ConsoleTarget> {
    const vm = await this.o.store.get<VirtualMachineObject>({ kind: 'VirtualMachine', namespace, name });
    if (!vm) throw new NotFoundError(`${vmName(name)} not found`, { name, kind: 'virtualmachines' });
    const host = vm.status?.host;
    const phase = vm.status?.phase ?? 'Pending';
    if (sub === 'log') {
      if (!host) throw new ConflictError(`${vmName(name)} has no console log yet: it has not been placed on a host (phase ${phase})`, { name, kind: 'virtualmachines' });
    } else if (!host || phase !== 'Running') {
      const what = sub === 'vnc' ? 'VNC display' : 'console';
      throw new ConflictError(`${vmName(name)} is not running (phase ${phase}): its ${what} opens once it runs`, { name, kind: 'virtualmachines' });
    }
    if (sub === 'vnc' && vm.spec.console?.type !== 'vnc') {
      throw new ConflictError(`${vmName(name)} has no VNC display: set spec.console.type to vnc (it takes effect at the next boot)`, { name, kind: 'virtualmachines' });
    }
    const h = await this.o.store.get<HostObject>({ kind: 'Host', namespace: '', name: host! });
    const endpoint = h?.status?.daemonEndpoints?.console;
    if (!endpoint) throw new ServiceUnavailableError(`host ${host} serves no consoles: its agent advertises no console server (status.daemonEndpoints.console)`);
    if (!this.o.key) throw new ServiceUnavailableError('this frontend cannot open consoles: it has no console key');
    return { vm, host: host!, endpoint, channel: CHANNEL[sub] };
  }

  private async token(t: ConsoleTarget, user: string | undefined): Promise<string> {
    const vm = t.vm.metadata;
    return mintConsoleToken(this.o.key!, { host: t.host, namespace: vm.namespace ?? '', name: vm.name, uid: vm.uid ?? '', channel: t.channel, user },
      { nowSec: Math.floor(this.clock.now() / 1000), ttlSec: 30 });
  }

  private agentPath(t: ConsoleTarget): string {
    return `/v1/namespaces/${encodeURIComponent(t.vm.metadata.namespace ?? '')}/virtualmachines/${encodeURIComponent(t.vm.metadata.name)}/${t.channel}`;
  }

  /** An error answer of the agent as the frontend's own: its 4xx about the VM as is, the rest a 503. */
  private agentError(t: ConsoleTarget, status: number, body: string): StratusError {
    let message = body.trim().slice(0, 500);
    try {
      const s = JSON.parse(body) as { message?: unknown };
      if (typeof s.message === 'string') message = s.message;
    } catch { /* plain text */ }
    const name = t.vm.metadata.name;
    if (status === 400) return new BadRequestError(message);
    if (status === 404) return new ConflictError(`${vmName(name)} is not on host ${t.host} yet: ${message}`, { name, kind: 'virtualmachines' });
    if (status === 409) return new ConflictError(message, { name, kind: 'virtualmachines' });
    return new ServiceUnavailableError(`the agent of host ${t.host} refused the ${t.channel} of ${vmName(name)} (${status}): ${message}`);
  }

  private unreachable(t: ConsoleTarget, err: Error): StratusError {
    const code = (err as NodeJS.ErrnoException).code;
    return new ServiceUnavailableError(`the console server of host ${t.host} (${t.endpoint.address}:${t.endpoint.port}) cannot be reached: ${code ?? err.message}`);
  }

  /** Opens the agent's websocket for `t`; rejects with the agent's refusal as a Status error. */
  private connectAgent(t: ConsoleTarget, user: string | undefined): Promise<WebSocket> {
    return this.token(t, user).then((token) => new Promise<WebSocket>((resolve, reject) => {
      const url = `ws://${hostForUrl(t.endpoint.address)}:${t.endpoint.port}${this.agentPath(t)}`;
      const ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${token}` }, handshakeTimeout: this.o.connectTimeoutMs ?? 10_000, perMessageDeflate: false, maxPayload: 1024 * 1024,
      });
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      ws.once('open', () => settle(() => resolve(ws)));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        readBody(res)
          .then((body) => settle(() => reject(this.agentError(t, res.statusCode ?? 502, body))), (err: Error) => settle(() => reject(this.unreachable(t, err))))
          .finally(() => ws.terminate());
      });
      ws.on('error', (err) => settle(() => reject(this.unreachable(t, err))));
    }));
  }

  /**
   * The console or VNC websocket: connects to the agent first (so that its refusal is an HTTP
   * answer), then completes the client's upgrade and relays both ways until either side closes.
   */
  async openSocket(t: ConsoleTarget, req: IncomingMessage, take: () => PendingUpgrade | undefined, user: string | undefined, log: Logger): Promise<void> {
    const agent = await this.connectAgent(t, user);
    const upgrade = take();
    if (!upgrade) {
      agent.terminate();
      throw new BadRequestError('the websocket upgrade was already answered');
    }
    const { socket, head } = upgrade;
    if (socket.destroyed) {
      agent.terminate(); // the client hung up meanwhile
      return;
    }
    let attached = false;
    socket.once('close', () => {
      if (!attached) agent.terminate();
    });
    this.wss.handleUpgrade(req, socket, head, (client) => {
      attached = true;
      this.sessions.add(client);
      relay(client, agent);
      const started = this.clock.now();
      log.info({ vm: `${t.vm.metadata.namespace}/${t.vm.metadata.name}`, host: t.host, channel: t.channel }, 'console session opened');
      client.once('close', () => {
        this.sessions.delete(client);
        log.info({ vm: `${t.vm.metadata.namespace}/${t.vm.metadata.name}`, channel: t.channel, seconds: Math.round((this.clock.now() - started) / 1000) }, 'console session closed');
      });
    });
  }

  /** The agent's console log stream (text/plain), or its refusal as a Status error. */
  openLog(t: ConsoleTarget, q: { tailLines?: number; follow: boolean }, user: string | undefined): Promise<IncomingMessage> {
    return this.token(t, user).then((token) => new Promise<IncomingMessage>((resolve, reject) => {
      const params = new URLSearchParams();
      if (q.tailLines !== undefined) params.set('tailLines', String(q.tailLines));
      if (q.follow) params.set('follow', 'true');
      const qs = params.toString();
      const req = http.get({
        host: t.endpoint.address, port: t.endpoint.port, path: `${this.agentPath(t)}${qs ? `?${qs}` : ''}`,
        headers: { authorization: `Bearer ${token}` }, timeout: this.o.connectTimeoutMs ?? 10_000,
      }, (res) => {
        req.setTimeout(0);
        if (res.statusCode === 200) return resolve(res);
        readBody(res).then((body) => reject(this.agentError(t, res.statusCode ?? 502, body)), (err: Error) => reject(this.unreachable(t, err)));
      });
      req.once('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.once('error', (err) => reject(isStratusError(err) ? err : this.unreachable(t, err)));
    }));
  }

  /** Ends every open session (the frontend is stopping). */
  close(): void {
    for (const s of this.sessions) s.close(1001, 'the frontend is stopping');
    this.sessions.clear();
    this.wss.close();
  }
}

function hostForUrl(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

function readBody(res: IncomingMessage, max = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      if (out.length < max) out += c;
    });
    res.once('end', () => resolve(out));
    res.once('error', reject);
  });
}

/** Relays messages both ways (binary stays binary), with backpressure, and closes each side with the other. */
function relay(a: WebSocket, b: WebSocket): void {
  const pipe = (from: WebSocket, to: WebSocket) => {
    from.on('message', (data, isBinary) => {
      if (to.readyState !== WebSocket.OPEN) return;
      to.send(rawToBuffer(data), { binary: isBinary }, () => {
        if (from.isPaused && to.bufferedAmount < HIGH_WATER / 2) from.resume();
      });
      if (to.bufferedAmount > HIGH_WATER) from.pause();
    });
    from.once('close', (code, reason) => {
      if (to.readyState === WebSocket.OPEN || to.readyState === WebSocket.CONNECTING) to.close(sendableCode(code), reason);
    });
    from.once('error', () => to.terminate());
  };
  pipe(a, b);
  pipe(b, a);
}
