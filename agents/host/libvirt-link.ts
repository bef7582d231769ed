/**
 * LibvirtLink: one host's connection to libvirt, kept alive across libvirtd restarts.
 * Owns: the current LibvirtConnection, its storage pool handles (PoolCache) and its lifecycle
 * event subscription.
 *
 * connect() opens the first connection (retrying with capped exponential backoff), makes sure
 * the agent's pool exists and subscribes to lifecycle events. start() then probes the connection
 * (virConnectIsAlive) every probeIntervalMs, and at once when a call failed with an error that
 * may mean the connection is gone (suspect()). A dead connection is reported (onLost, awaited
 * so the Host condition is written before recovery can hide the outage), dropped, and replaced
 * by a new one with a new event subscription: libvirt ties event callbacks to a connection, and
 * registering ours a second time on the same connection fails ("event callback already
 * tracked"), so a subscription is never renewed on a connection, only made on a new one.
 * onRestored follows. Nothing here stops a domain: an unreachable libvirt is no reason to
 * fence (fencing is about the Cassandra lease only), and qemu keeps the guests running meanwhile.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../runtime';
import { LibvirtConnection, LibvirtError, mayMeanConnectionLost, type DomainLifecycleListener, type LibvirtExecutor, type Unsubscribe } from '../../libvirt';
import type { Condition } from '../../schemas/types.gen';
import { Alarm } from './alarm';
import { PoolCache } from './pools';

/** Whether the link is up, and if not, why (reported in the Host's LibvirtConnected condition). */
export type LinkState =
  | { connected: true; since: number }
  | { connected: false; since: number; reason: 'Connecting' | 'ConnectionLost' | 'ConnectFailed'; message: string };

export interface LibvirtLinkOptions {
  uri: string;
  executor?: LibvirtExecutor;
  /** the agent's storage pool, created at `poolPath` on a host that lacks it */
  pool: string;
  poolPath: string;
  /** lifecycle events of the current connection */
  onEvent: DomainLifecycleListener;
  /** the connection was lost; awaited (bounded by reportTimeoutMs) before reconnecting */
  onLost?: (state: LinkState) => Promise<void> | void;
  /** a new connection is up (pool ensured, events subscribed) */
  onRestored?: () => void;
  /** default 5000 ms */
  probeIntervalMs?: number;
  /** a probe not answered within this counts as a lost connection; default 10 000 ms */
  probeTimeoutMs?: number;
  /** reconnect backoff: first delay, doubled per failure up to the cap; default 250 ms and 15 000 ms */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** how long onLost may take before reconnecting anyway; default 5000 ms */
  reportTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** The capped exponential backoff of the attempt-th reconnect (0-based). Pure. */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

/** The Host condition that reports the link. Pure. */
export function libvirtCondition(state: LinkState, uri: string): Condition {
  return state.connected
    ? { type: 'LibvirtConnected', status: 'True', reason: 'Connected', message: `the agent is connected to ${uri}` }
    : { type: 'LibvirtConnected', status: 'False', reason: state.reason, message: state.message };
}

/** `p`, or a rejection after `ms`. */
function within<T>(p: Promise<T>, clock: Clock, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const h = clock.setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then((v) => {
      clock.clearTimeout(h);
      resolve(v);
    }, (e: unknown) => {
      clock.clearTimeout(h);
      reject(e);
    });
  });
}

export class LibvirtLink {
  readonly pools: PoolCache;
  private current: LibvirtConnection | undefined;
  private unsubscribe: Unsubscribe | undefined;
  private stateValue: LinkState;
  private readonly alarm: Alarm;
  private readonly clock: Clock;
  /** connections replaced after a loss */
  reconnects = 0;

  constructor(private readonly o: LibvirtLinkOptions) {
    this.clock = o.clock ?? systemClock;
    this.alarm = new Alarm(this.clock);
    // The pools see the connection being established too (ensure() runs before it is announced).
    this.pools = new PoolCache(() => this.current ?? this.conn);
    this.stateValue = { connected: false, since: this.clock.now(), reason: 'Connecting', message: `connecting to ${o.uri}` };
  }

  get state(): LinkState {
    return this.stateValue;
  }

  get connected(): boolean {
    return this.stateValue.connected;
  }

  /** The current connection, or undefined while there is none (before connect, during an outage). */
  get connection(): LibvirtConnection | undefined {
    return this.stateValue.connected ? this.current : undefined;
  }

  /** The current connection; while there is none, a LibvirtError VIR_ERR_NO_CONNECT. */
  get conn(): LibvirtConnection {
    const c = this.connection;
    if (!c) throw LibvirtError.local('virConnectOpen', 'VIR_ERR_NO_CONNECT', `not connected to ${this.o.uri}: ${this.stateValue.connected ? '' : this.stateValue.message}`);
    return c;
  }

  /** Hands the link an error a libvirt call failed with: one that may mean a lost connection gets it probed now. */
  suspect(err: unknown): void {
    if (this.stateValue.connected && mayMeanConnectionLost(err)) this.alarm.wake();
  }

  /** Opens a connection, ensures the pool and subscribes to events; on failure nothing is left open. */
  private async establish(): Promise<void> {
    const conn = await LibvirtConnection.open(this.o.uri, { executor: this.o.executor });
    this.current = conn;
    try {
      await this.pools.ensure(this.o.pool, this.o.poolPath);
      this.unsubscribe = await conn.onDomainLifecycle(this.o.onEvent);
    } catch (err) {
      this.drop();
      throw err;
    }
    this.stateValue = { connected: true, since: this.clock.now() };
  }

  /**
   * Lets go of the current connection without waiting: a call stuck on a dead daemon must not
   * hold up the new connection. Its handles are released once their calls return.
   */
  private drop(): void {
    const unsubscribe = this.unsubscribe;
    const conn = this.current;
    this.unsubscribe = undefined;
    this.current = undefined;
    this.pools.reset();
    void unsubscribe?.().catch(() => undefined);
    conn?.free();
  }

  /**
   * Connects, retrying with capped exponential backoff until it works (true) or `signal` aborts
   * (false). `failed` names the state reported meanwhile.
   */
  private async reconnect(signal: AbortSignal, failed: 'Connecting' | 'ConnectFailed'): Promise<boolean> {
    const base = this.o.retryBaseMs ?? 250;
    const max = this.o.retryMaxMs ?? 15_000;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.establish();
        return true;
      } catch (err) {
        const delay = reconnectDelay(attempt, base, max);
        const since = this.stateValue.since;
        this.stateValue = { connected: false, since, reason: failed, message: `cannot connect to ${this.o.uri}: ${(err as Error).message}` };
        this.o.logger?.warn({ uri: this.o.uri, err: String(err), retryInMs: delay }, 'connecting to libvirt failed; retrying');
        await this.alarm.nap(delay, signal);
      }
    }
    return false;
  }

  /** The first connection; false if `signal` aborted first. */
  connect(signal: AbortSignal): Promise<boolean> {
    return this.reconnect(signal, 'Connecting');
  }

  /** Probes the connection; undefined when alive, else why not. */
  private async probe(): Promise<string | undefined> {
    const conn = this.current;
    if (!conn) return 'no connection';
    try {
      const alive = await within(conn.isAlive(), this.clock, this.o.probeTimeoutMs ?? 10_000, 'virConnectIsAlive');
      return alive ? undefined : 'virConnectIsAlive reports the connection closed';
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Watches the connection and replaces it when it dies, until `signal` aborts. Call after connect(). */
  async start(signal: AbortSignal): Promise<void> {
    const log = this.o.logger;
    while (!signal.aborted) {
      await this.alarm.nap(this.o.probeIntervalMs ?? 5000, signal);
      if (signal.aborted || !this.stateValue.connected) continue;
      const why = await this.probe();
      if (why === undefined || signal.aborted) continue;
      this.stateValue = { connected: false, since: this.clock.now(), reason: 'ConnectionLost', message: `lost the connection to ${this.o.uri}: ${why}` };
      log?.error({ uri: this.o.uri, why }, 'libvirt connection lost; reconnecting (domains are left as they are)');
      this.drop();
      try {
        await within(Promise.resolve(this.o.onLost?.(this.stateValue)), this.clock, this.o.reportTimeoutMs ?? 5000, 'reporting the lost connection');
      } catch (err) {
        log?.warn({ err: String(err) }, 'reporting the lost libvirt connection failed');
      }
      if (!(await this.reconnect(signal, 'ConnectFailed'))) return;
      this.reconnects++;
      log?.warn({ uri: this.o.uri, reconnects: this.reconnects }, 'libvirt connection restored');
      this.o.onRestored?.();
    }
  }

  /** Ends the subscription and closes the connection (at shutdown). */
  async close(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    const conn = this.current;
    this.unsubscribe = undefined;
    this.current = undefined;
    await unsubscribe?.().catch(() => undefined);
    this.pools.close();
    await conn?.close().catch(() => undefined);
  }
}
