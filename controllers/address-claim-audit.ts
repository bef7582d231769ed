// The address claim audit: every period, deletes the AddressClaims nobody holds any more — the
// VM (spec.vm) is gone or is another VM of the same name (spec.uid), the Network was deleted or
// re-created (spec.networkUID), or the VM is bound with other addresses (a claim a replica made
// while losing the race to bind, before it crashed). Claims younger than the grace period belong
// to placements in flight and are left alone; every suspect is confirmed by fresh reads first.

import type { Logger } from 'pino';
import type { AddressClaimObject, NetworkObject, ObjectStore, VirtualMachineObject } from '../store';
import type { PlacementMetrics } from './metrics';
import { Periodic, storeKey, systemClock, type Clock, type Informer } from '../runtime';
import { ADDRESS_CLAIM_KIND, fromObject, releaseAddressClaim, type AddressClaimView } from './ipam';
import type { AddressClaimSpec, VirtualMachineStatus } from '../schemas/types.gen';

export interface AddressClaimAuditOptions {
  store: ObjectStore;
  informers: { vms: Informer<VirtualMachineObject>; networks: Informer<NetworkObject> };
  addresses?: Pick<AddressClaimView, 'forget'>;
  logger: Logger;
  metrics?: PlacementMetrics;
  clock?: Clock;
  random?: () => number;
  /** default 60 000 ms (jittered ±20 %) */
  periodMs?: number;
  /** a claim younger than this is never removed; default 60 000 ms */
  graceMs?: number;
}

export interface AddressAuditReport {
  claims: number;
  /** deleted, by why */
  vmGone: number;
  networkGone: number;
  unlisted: number;
}

type Why = 'vmGone' | 'networkGone' | 'unlisted' | undefined;

function lists(status: VirtualMachineStatus | undefined, namespace: string, s: AddressClaimSpec): boolean {
  return (status?.addresses ?? []).some((a) => a.network === `${namespace}/${s.network}` && a.ipAddress === s.address && a.name === s.interface);
}

/** Why a claim is stale given a VM and a Network (from a cache or fresh reads), or undefined. */
function staleness(c: AddressClaimObject, vm: Readonly<VirtualMachineObject> | undefined, net: Readonly<NetworkObject> | undefined): Why {
  const ns = c.metadata.namespace ?? '';
  if (!net || net.metadata.uid !== c.spec.networkUID) return 'networkGone';
  if (!vm || vm.metadata.uid !== c.spec.uid) return 'vmGone';
  if (vm.status?.host && !lists(vm.status, ns, c.spec)) return 'unlisted';
  return undefined;
}

export async function auditAddressClaims(d: AddressClaimAuditOptions, now: number, graceMs: number): Promise<AddressAuditReport> {
  const report: AddressAuditReport = { claims: 0, vmGone: 0, networkGone: 0, unlisted: 0 };
  let cont: string | undefined;
  do {
    const page = await d.store.list<AddressClaimObject>(ADDRESS_CLAIM_KIND, undefined, { limit: 500, continue: cont });
    cont = page.continue;
    for (const c of page.items) {
      report.claims++;
      if (now - c.spec.at <= graceMs) continue;
      const ns = c.metadata.namespace ?? '';
      const netKey = `${ns}/${c.spec.network}`;
      if (!staleness(c, d.informers.vms.get(c.spec.vm), d.informers.networks.get(netKey))) continue;
      // Confirm with fresh reads: the informers may lag a VM or Network just created or bound.
      const [vm, net] = await Promise.all([
        d.store.get<VirtualMachineObject>(storeKey('VirtualMachine', c.spec.vm), { serial: true }),
        d.store.get<NetworkObject>(storeKey('Network', netKey)),
      ]);
      const why = staleness(c, vm, net);
      if (!why) continue;
      if (await releaseAddressClaim(d.store, fromObject(c), d.addresses)) {
        report[why]++;
        d.metrics?.addressReleases.inc({ reason: 'audit' });
        d.logger.info({ claim: `${ns}/${c.metadata.name}`, vm: c.spec.vm, why }, 'address claim released by the audit');
      }
    }
  } while (cont);
  return report;
}

export class AddressClaimAudit {
  readonly name = 'address-claim-audit';
  private readonly clock: Clock;
  private readonly periodic: Periodic;

  constructor(private readonly o: AddressClaimAuditOptions) {
    this.clock = o.clock ?? systemClock;
    this.periodic = new Periodic({
      name: this.name, periodMs: o.periodMs ?? 60_000, jitter: 0.2, clock: this.clock, random: o.random, logger: o.logger,
      errorMessage: 'address claim audit failed; next period retries',
      run: () => this.runOnce(),
    });
  }

  /** Once the informers synced, audits every period. */
  async start(signal: AbortSignal): Promise<void> {
    for (const i of [this.o.informers.vms, this.o.informers.networks]) if (!(await i.waitForSync(signal))) return;
    await this.periodic.start(signal);
  }

  runOnce(): Promise<AddressAuditReport> {
    return auditAddressClaims(this.o, this.clock.now(), this.o.graceMs ?? 60_000);
  }
}
