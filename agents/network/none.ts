/**
 * The host network backend that BUILDS NOTHING: no device, no table, no command. For hosts that
 * cannot or may not build networks, such as the hollow hosts of simulations on libvirt's test
 * driver. It still reports modes (default nat and overlay) so that placement onto networks can
 * be simulated; apply() only remembers the state it was given.
 */
import type { HostNetworkBackend, HostNetworkState } from './types';

type Mode = 'nat' | 'bridge' | 'overlay';

export interface NoneNetworkBackendOptions {
  /** the modes to report; default nat and overlay */
  modes?: Mode[];
  /** the uplink interfaces to report; default none */
  interfaces?: string[];
}

export class NoneNetworkBackend implements HostNetworkBackend {
  readonly name = 'none' as const;
  private readonly modes: Mode[];
  private readonly interfaces: string[];
  private state?: HostNetworkState;

  constructor(opts: NoneNetworkBackendOptions = {}) {
    this.modes = [...(opts.modes ?? ['nat', 'overlay'])];
    this.interfaces = [...(opts.interfaces ?? [])];
  }

  async capabilities(): Promise<{ modes: Mode[]; interfaces: string[] }> {
    return { modes: [...this.modes], interfaces: [...this.interfaces] };
  }

  async apply(state: HostNetworkState): Promise<void> {
    this.state = structuredClone(state);
  }

  /** The state of the last apply(), for tests and simulations; undefined before the first. */
  get lastState(): HostNetworkState | undefined {
    return this.state;
  }
}
