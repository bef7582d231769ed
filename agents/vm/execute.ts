/**
 * Carries out a plan's actions against libvirt, in order, stopping at the first failure.
 * Outcomes that already hold (a volume that exists, a domain already stopped or gone) count as
 * success, so a repeated plan is harmless. Failures become ActionFailedError with the reason
 * reported in status.
 */
import { isLibvirtError, type Domain, type DomainStateName, type LibvirtConnection } from '../../libvirt';
import { ActionFailedError } from '../errors';
import { buildRequestsMark, REQUESTS_NS, REQUESTS_PREFIX } from '../domain';
import type { PoolCache } from '../host/pools';
import type { Action } from './plan';
import type { SeedFiles } from '../domain/seed';
import type { SeedStore } from './seeds';

export interface ExecuteOptions {
  conn: LibvirtConnection;
  pools: PoolCache;
  /** the libvirt domain the actions are about */
  domainName: string;
  /** told of each lifecycle event an action will cause (so the agent does not react to its own) */
  expectEvent?: (event: string) => void;
  /** the host's cloud-init seeds, and the content a writeSeed action writes (never part of the action) */
  seeds?: SeedStore;
  seedFiles?: SeedFiles;
  /** runs before a define or a start: what qemu needs on the host (the console folder) */
  beforeBoot?: () => Promise<void>;
}

export interface ExecuteResult {
  done: Action[];
  /** a start (or destroy + start) succeeded */
  started: boolean;
  /** a graceful shutdown was requested */
  shutdownRequested: boolean;
  error?: ActionFailedError;
  /** the domain's state after the actions, when they touched it (undefined: not read) */
  after?: { uuid: string; state: DomainStateName; reason: string } | null;
}

const REASONS: Record<Action['type'], string> = {
  createVolume: 'CreateVolumeFailed',
  deleteVolume: 'DeleteVolumeFailed',
  define: 'DefineFailed',
  start: 'StartFailed',
  resume: 'ResumeFailed',
  shutdown: 'ShutdownFailed',
  destroy: 'DestroyFailed',
  undefine: 'UndefineFailed',
  markRequests: 'MarkRequestsFailed',
  writeSeed: 'CloudInitSeedFailed',
  deleteSeed: 'DeleteSeedFailed',
};

/** The lifecycle event each action causes. */
const EVENTS: Partial<Record<Action['type'], string>> = {
  define: 'defined',
  start: 'started',
  resume: 'resumed',
  destroy: 'stopped',
  undefine: 'undefined',
};

function codeOf(err: unknown): string | undefined {
  return isLibvirtError(err) ? err.code : undefined;
}

export async function execute(actions: Action[], o: ExecuteOptions): Promise<ExecuteResult> {
  const result: ExecuteResult = { done: [], started: false, shutdownRequested: false };
  let dom: Domain | undefined;
  const domain = async (): Promise<Domain | undefined> => (dom ??= await o.conn.lookupDomainByName(o.domainName));
  const active = async (): Promise<boolean> => {
    const d = await domain();
    return d ? d.isActive() : false;
  };
  try {
    for (const a of actions) {
      try {
        const ev = EVENTS[a.type];
        if (ev) o.expectEvent?.(ev);
        await run(a);
        result.done.push(a);
      } catch (err) {
        const code = codeOf(err);
        const what = a.type === 'createVolume' || a.type === 'deleteVolume' ? `${a.type} ${a.pool}/${a.name}`
          : a.type === 'writeSeed' || a.type === 'deleteSeed' ? `${a.type} ${a.path}` : `${a.type} ${o.domainName}`;
        result.error = new ActionFailedError(a.type, REASONS[a.type], `${what}: ${(err as Error).message}`, { cause: err, libvirtCode: code });
        return result;
      }
    }
    // The state the actions left: what a successful start or stop implies, else read from the
    // handle they used (saves a look-up). A later event or reconcile corrects any surprise.
    const last = result.done[result.done.length - 1];
    if (dom && last?.type === 'start') {
      result.after = { uuid: dom.uuid, state: 'running', reason: 'booted' };
    } else if (dom) {
      const st = await dom.getState().catch(() => undefined);
      result.after = st ? { uuid: dom.uuid, state: st.state, reason: st.reason } : undefined;
    } else if (result.done.some((a) => a.type === 'undefine')) {
      result.after = null;
    }
    return result;
  } finally {
    dom?.free();
  }

  async function run(a: Action): Promise<void> {
    switch (a.type) {
      case 'createVolume':
        return o.pools.createVolume(a.pool, a.xml);
      case 'deleteVolume':
        return o.pools.deleteVolume(a.pool, a.name);
      case 'define': {
        await o.beforeBoot?.();
        const defined = await o.conn.defineDomain(a.xml);
        dom?.free();
        dom = defined;
        return;
      }
      case 'start': {
        const d = await domain();
        if (!d) throw new Error('domain not found');
        await o.beforeBoot?.();
        try {
          await d.start();
        } catch (err) {
          // "already running" (VIR_ERR_OPERATION_INVALID on qemu, INTERNAL_ERROR on the test driver)
          if (!(await d.isActive())) throw err;
        }
        result.started = true;
        return;
      }
      case 'resume': {
        const d = await domain();
        if (d) await d.resume();
        return;
      }
      case 'shutdown': {
        const d = await domain();
        if (!d || !(await active())) return;
        // The guest agent first (a guest whose ACPI button nothing handles still shuts down), then ACPI.
        await d.shutdown(a.guestAgent ? ['agent', 'acpi'] : []);
        result.shutdownRequested = true;
        return;
      }
      case 'destroy': {
        const d = await domain();
        if (!d) return;
        try {
          await d.destroy();
        } catch (err) {
          if (await d.isActive()) throw err;
        }
        return;
      }
      case 'undefine': {
        const d = await domain();
        if (!d) return;
        try {
          await d.undefine();
        } catch (err) {
          if (codeOf(err) !== 'VIR_ERR_NO_DOMAIN') throw err;
        }
        d.free();
        dom = undefined;
        return;
      }
      case 'writeSeed':
        if (!o.seeds || !o.seedFiles) throw new Error('no cloud-init seed content to write');
        return o.seeds.write(a.path, o.seedFiles, a.hash);
      case 'deleteSeed':
        if (!o.seeds) throw new Error('no seed store');
        return o.seeds.remove(a.path);
      case 'markRequests': {
        // Best effort: the agent also remembers the ids until the requests leave status.
        const d = await domain();
        if (!d) return;
        const live = await d.isActive().catch(() => false);
        await d.setMetadata(buildRequestsMark(a.ids), REQUESTS_PREFIX, REQUESTS_NS, { affect: live ? 'both' : 'config' }).catch(() => undefined);
        return;
      }
    }
  }
}
