/**
 * The hypervisor ports forwarded to the guests' SSH port (user-mode networking on real hosts): one
 * per VM, from a configured range, stable for the VM (kept in its domain's metadata, read back
 * when the agent starts: claim()), never one another domain of the host holds, and only one that
 * can be bound right now (another program may hold it).
 */
import { createServer } from 'node:net';

export interface ForwardPortsOptions {
  /** the address the forwards listen on, e.g. 127.0.0.1 */
  address: string;
  /** the ports to choose from, inclusive */
  from: number;
  to: number;
  /** whether `port` can be bound on `address` now; default: try it */
  probe?: (address: string, port: number) => Promise<boolean>;
}

/** Binds and closes a TCP port: true if it was free. */
export function canBind(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export class ForwardPorts {
  readonly address: string;
  private readonly byKey = new Map<string, number>();
  private readonly byPort = new Map<number, string>();
  private readonly probe: (address: string, port: number) => Promise<boolean>;

  constructor(private readonly o: ForwardPortsOptions) {
    if (!(o.from >= 1 && o.to <= 65535 && o.from <= o.to)) throw new RangeError(`invalid forward port range ${o.from}-${o.to}`);
    this.address = o.address;
    this.probe = o.probe ?? canBind;
  }

  /** The port of VM `key`, if it has one. */
  get(key: string): number | undefined {
    return this.byKey.get(key);
  }

  /**
   * Records that VM `key`'s domain uses `port` (read from its metadata). A port another VM already
   * holds stays that VM's (the later VM gets a new one at its next definition).
   */
  claim(key: string, port: number): void {
    const holder = this.byPort.get(port);
    if (holder !== undefined && holder !== key) return;
    const old = this.byKey.get(key);
    if (old !== undefined && old !== port) this.byPort.delete(old);
    this.byKey.set(key, port);
    this.byPort.set(port, key);
  }

  /** The port of VM `key`, choosing a free one (lowest first) if it has none; undefined when the range is used up. */
  async ensure(key: string): Promise<number | undefined> {
    const have = this.byKey.get(key);
    if (have !== undefined) return have;
    for (let port = this.o.from; port <= this.o.to; port++) {
      if (this.byPort.has(port)) continue;
      this.byPort.set(port, key); // reserved while probing: concurrent calls skip it
      if (await this.probe(this.address, port)) {
        this.byKey.set(key, port);
        return port;
      }
      this.byPort.delete(port);
    }
    return undefined;
  }

  /** Frees VM `key`'s port (its domain is gone). */
  release(key: string): void {
    const port = this.byKey.get(key);
    if (port === undefined) return;
    this.byKey.delete(key);
    if (this.byPort.get(port) === key) this.byPort.delete(port);
  }

  /** How many ports are held. */
  get size(): number {
    return this.byKey.size;
  }
}
