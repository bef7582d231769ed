// PUT (or POST) …/namespaces/NS/virtualmachines/NAME/start|stop|restart: KubeVirt's VM actions on
// our API. Options are checked first; the VM's spec and status change in one compare-and-set
// (decide.ts says how); the answer is 202 with a Status whose message says what will happen.

import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isoSeconds } from '../../kube/time';
import { jsonEqual } from '../../kube/equal';
import { GROUP } from '../../schemas/kinds';
import type { RequestValidator } from '../../schemas/requests';
import type { ObjectStore, VirtualMachineObject } from '../../store';
import { systemClock, type Clock } from '../../runtime';
import { AdmissionScope, type Admission } from '../admission';
import type { BodyLimits } from '../negotiate';
import { sendObject } from '../negotiate';
import { fieldManager } from '../request';
import { trackUpdate } from '../ssa';
import { successStatus } from '../status';
import type { Target } from '../target';
import type { UserInfo } from '../auth/identity';
import { decide, type VmAction } from './decide';
import { readActionOptions } from './options';

export interface VmActionsOptions {
  store: ObjectStore;
  requests: RequestValidator;
  limits: BodyLimits;
  admission?: Admission;
  clock?: Clock;
  logger: Logger;
}

export class VmActions {
  private readonly clock: Clock;

  constructor(private readonly o: VmActionsOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** Carries out `action` on the VM `t` names (already authorized). */
  async handle(ctx: Context, t: Target, action: VmAction): Promise<void> {
    const opts = await readActionOptions(ctx, action, this.o.requests, this.o.limits);
    const key = { kind: 'VirtualMachine', namespace: t.namespace, name: t.name! };
    const user = (ctx.state.user as UserInfo | undefined)?.name;
    const manager = fieldManager(ctx, 'unknown');
    const id = randomUUID();
    let message = '';
    const admitted = new AdmissionScope(this.o.admission);
    const out = await admitted.around(() => this.o.store.guaranteedUpdate<VirtualMachineObject>(key, async (cur) => {
      const now = isoSeconds(this.clock.now());
      const d = decide(cur, { action, gracePeriodSeconds: opts.gracePeriodSeconds, id, now, user });
      message = d.message;
      let next = d.next;
      if (!jsonEqual(cur.spec, next.spec)) next = trackUpdate(cur, next, { manager, now });
      if (!jsonEqual(cur.status ?? {}, next.status ?? {})) next = trackUpdate(cur, next, { manager, now, subresource: 'status' });
      await admitted.admit({ ctx, target: t, old: cur, next, dryRun: opts.dryRun });
      return next;
    }, { withStatus: true, dryRun: opts.dryRun }));
    ctx.state.log?.info({ action, vm: `${t.namespace}/${t.name}`, generation: out.metadata.generation, dryRun: opts.dryRun }, message);
    ctx.status = 202;
    sendObject(ctx, {
      ...successStatus({ name: t.name, group: GROUP, kind: 'virtualmachines' }),
      code: 202,
      message: opts.dryRun ? `${message} (dry run: nothing was changed)` : message,
    });
  }
}
