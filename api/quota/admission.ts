// Quota admission: a write that makes a VM or Volume ask for more raises its charge in the ledger
// first (refused with 403 when the project's quota would be exceeded), and settles it to what the
// written object asks for afterwards; a failed write aborts the raise; a deletion releases the
// charge once the object is gone. Projects without a quota are still accounted (status.usage),
// but nothing waits for the ledger before their writes.

import type { Logger } from 'pino';
import { GROUP } from '../../schemas/kinds';
import type { StoredObject } from '../../store';
import type { Admission, AdmissionRequest, Admitted, DeletionRequest } from '../admission';
import { amountsOf, CHARGED_KINDS, DIMENSIONS, limitsOf, ZERO } from './amounts';
import type { ObjectCharge, QuotaLedger } from './ledger';

export interface ProjectReader {
  lookup(name: string): Promise<StoredObject | undefined>;
}

export interface QuotaAdmissionOptions {
  ledger: QuotaLedger;
  projects: ProjectReader;
  logger?: Logger;
}

export function itemOf(kind: string, name: string): string {
  return `${kind}/${name}`;
}

export function chargeOf(obj: StoredObject): ObjectCharge {
  return { uid: obj.metadata.uid ?? '', rv: obj.metadata.resourceVersion ?? '', amounts: amountsOf(obj) };
}

export class QuotaAdmission implements Admission {
  constructor(private readonly o: QuotaAdmissionOptions) {}

  async admit(req: AdmissionRequest): Promise<Admitted | undefined> {
    const { target: t, old, next, dryRun } = req;
    if (!CHARGED_KINDS.has(t.kind.kind) || t.subresource) return undefined;
    const project = next.metadata.namespace ?? t.namespace;
    const item = itemOf(t.kind.kind, next.metadata.name);
    const want = amountsOf(next);
    const before = old ? amountsOf(old) : { ...ZERO };
    const grows = DIMENSIONS.some((d) => want[d] > before[d]);
    const changes = !old || DIMENSIONS.some((d) => want[d] !== before[d]);
    if (!changes) return undefined;
    const limits = limitsOf(await this.o.projects.lookup(project));
    const what = `${t.kind.plural}.${GROUP} "${next.metadata.name}"`;
    if (dryRun) {
      if (grows) await this.o.ledger.check(project, item, want, { limits, what });
      return undefined;
    }
    const raiseId = limits && grows ? await this.o.ledger.raise(project, item, want, { limits, enforce: true, what }) : undefined;
    const log = (op: string) => (err: unknown) => this.o.logger?.warn({ err: String(err), project, item, op }, 'quota ledger update failed; the reconciler will repair it');
    return {
      // Not awaited: until it lands, the raise (or, without a quota, nothing yet) stands for the object.
      commit: (result) => { void this.o.ledger.settle(project, item, chargeOf(result), raiseId).catch(log('settle')); },
      abort: () => (raiseId ? this.o.ledger.abort(project, item, raiseId).catch(log('abort')) : undefined),
    };
  }

  async deleted(req: DeletionRequest): Promise<void> {
    const { target: t, object, gone, dryRun } = req;
    if (!gone || dryRun || !CHARGED_KINDS.has(t.kind.kind)) return;
    const project = object.metadata.namespace ?? t.namespace;
    await this.o.ledger.release(project, itemOf(t.kind.kind, object.metadata.name), object.metadata.uid ?? '').catch((err) => {
      this.o.logger?.warn({ err: String(err), project, name: object.metadata.name }, 'could not release quota; the reconciler will');
    });
  }
}
