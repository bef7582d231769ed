/**
 * ImageStatusReporter: writes what the hosts of an agent process found about their copies of an
 * Image into its status (imageStatus(): the host's entry in status.hosts, phase, Ready, facts), by
 * compare-and-set on the newest Image. Hosts note their copy's state at every use (a reconcile);
 * only a change is written, and the changes of all the process's hosts for one Image go in one
 * write at a time (N hollow hosts do not contend on one partition). A failed write is retried at
 * the next use.
 */
import type { Logger } from 'pino';
import type { ImageObject, ObjectKey, ObjectStore } from '../../store';
import { systemClock, type Clock } from '../../runtime';
import { writeStatus } from '../status-writer';
import { KeyedJobs } from '../vm/status-queue';
import { hostReport, imageStatus, type HostReport } from './image-status';
import type { ImageState } from './verdict';

export interface ImageStatusReporterOptions {
  store: ObjectStore;
  clock?: Clock;
  logger?: Logger;
  /** Images written at once; default 4 */
  concurrency?: number;
}

interface Pending {
  key: ObjectKey;
  generation: number;
  reports: Map<string, HostReport>;
}

export class ImageStatusReporter {
  /** per `uid/host`: the report last handed to a write (a change is written, a repeat is not) */
  private readonly reported = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  private readonly jobs: KeyedJobs;
  private readonly clock: Clock;

  constructor(private readonly o: ImageStatusReporterOptions) {
    this.clock = o.clock ?? systemClock;
    this.jobs = new KeyedJobs({
      concurrency: o.concurrency ?? 4,
      clock: this.clock,
      onError: (uid, err) => o.logger?.warn({ image: uid, err: String(err) }, 'writing an Image status failed; writing it at the next use'),
    });
  }

  /** Host `host` found its copy of `img` in state `st`. */
  note(img: ImageObject, host: string, st: ImageState): void {
    const uid = img.metadata.uid ?? '';
    const generation = img.metadata.generation ?? 0;
    const report = hostReport(host, st, img.spec.format ?? 'qcow2');
    const id = `${uid}/${host}`;
    const text = `${generation} ${JSON.stringify(report)}`;
    if (this.reported.get(id) === text) return;
    if (this.reported.size > 100_000) this.reported.clear(); // Images gone long ago: at worst, one more write
    this.reported.set(id, text);
    let p = this.pending.get(uid);
    if (!p || p.generation !== generation) {
      p = { key: { kind: 'Image', namespace: img.metadata.namespace ?? '', name: img.metadata.name }, generation, reports: new Map() };
      this.pending.set(uid, p);
    }
    p.reports.set(host, report);
    this.jobs.submit(uid, () => this.write(uid));
  }

  /** Resolves when no write waits or runs (tests). */
  idle(): Promise<void> {
    return this.jobs.idle();
  }

  private async write(uid: string): Promise<void> {
    const p = this.pending.get(uid);
    if (!p) return;
    this.pending.delete(uid);
    try {
      await writeStatus<ImageObject>(this.o.store, p.key, undefined, (cur) => {
        // Another incarnation, or a newer spec than the one verified: the hosts report again.
        if (cur.metadata.uid !== uid || (cur.metadata.generation ?? 0) !== p.generation) return undefined;
        return imageStatus(cur.status ?? {}, [...p.reports.values()], p.generation, this.clock.now());
      });
    } catch (err) {
      for (const host of p.reports.keys()) this.reported.delete(`${uid}/${host}`);
      throw err;
    }
  }
}
