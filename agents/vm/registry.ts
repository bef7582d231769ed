/**
 * The domains a host agent runs, as the reconciler last saw them: what the monitor samples and
 * bills (domain name → VM identity and size). Written by the reconciler only.
 */

export interface RunningVm {
  key: string;
  namespace: string;
  name: string;
  uid: string;
  domain: string;
  vcpus: number;
  memoryBytes: number;
  /** sum of the VM's disk capacities */
  diskBytes: number;
}

export class DomainRegistry {
  private readonly byDomain = new Map<string, RunningVm>();
  private readonly byKey = new Map<string, string>();

  set(vm: RunningVm): void {
    const old = this.byKey.get(vm.key);
    if (old && old !== vm.domain) this.byDomain.delete(old);
    this.byDomain.set(vm.domain, vm);
    this.byKey.set(vm.key, vm.domain);
  }

  deleteKey(key: string): void {
    const d = this.byKey.get(key);
    if (d) this.byDomain.delete(d);
    this.byKey.delete(key);
  }

  get(domain: string): RunningVm | undefined {
    return this.byDomain.get(domain);
  }

  list(): RunningVm[] {
    return [...this.byDomain.values()];
  }

  get size(): number {
    return this.byDomain.size;
  }
}
