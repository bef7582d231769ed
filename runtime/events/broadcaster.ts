// The events of one process: recorders (one per reporter: the scheduler, an agent's host...) hand
// occurrences to the correlator, and a bounded queue of event names is written to the sink in the
// background. Recording never throws and never waits: past the queue's bound, a rate limit or a
// failed write, the event is dropped and counted (stratus_events_dropped_total).

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { EVENT_API_VERSION, referenceTo, type EventObject, type EventReporter, type EventType, type Involved } from '../../kube/events';
import { isoSeconds } from '../../kube/time';
import { sleep, systemClock, type Clock } from '../clock';
import { untilAborted, type Runnable } from '../runnable';
import { EventCorrelator, type CorrelatorOptions, type LoggedEvent } from './correlator';

/** Where events are kept (store/events.ts). */
export interface EventSink {
  /** the stored event of that name, if any (its count continues after a restart) */
  get(namespace: string, name: string): Promise<EventObject | undefined>;
  /** writes (creates or replaces) an event; it expires by itself */
  write(event: EventObject): Promise<void>;
}

/** What controllers and agents record events with. */
export interface EventRecorder {
  /** Records that `reason` happened to `obj`; never throws, never waits. No user data or secrets in `message`. */
  event(obj: Involved, type: EventType, reason: string, message: string): void;
}

/** A recorder that records nothing (tests and tools that run without events). */
export const NO_EVENTS: EventRecorder = { event: () => undefined };

export type DropCause = 'rate_limited' | 'queue_full' | 'write_failed';

export interface EventBroadcasterOptions {
  sink: EventSink;
  clock?: Clock;
  logger?: Logger;
  /** Prometheus registry for stratus_events_written_total and stratus_events_dropped_total */
  registry?: Registry;
  correlator?: Omit<CorrelatorOptions, 'clock'>;
  /** events waiting to be written at most; default 1000 (past it, new ones are dropped) */
  queueSize?: number;
  /** concurrent writes; default 4 */
  concurrency?: number;
  /** how long what is pending is still written once stopped; default 2000 ms */
  flushMs?: number;
}

export class EventBroadcaster implements Runnable {
  readonly name = 'events';
  private readonly clock: Clock;
  private readonly correlator: EventCorrelator;
  /** names waiting to be written, oldest first, each with its newest state */
  private readonly pending = new Map<string, LoggedEvent>();
  private readonly inFlight = new Set<string>();
  private readonly queueSize: number;
  private readonly concurrency: number;
  private running = false;
  private idle: (() => void)[] = [];
  private readonly written?: Counter;
  private readonly droppedMetric?: Counter<'cause'>;
  /** counts of this process (also on the registry when one was given) */
  readonly counts = { written: 0, rate_limited: 0, queue_full: 0, write_failed: 0 };

  constructor(private readonly o: EventBroadcasterOptions) {
    this.clock = o.clock ?? systemClock;
    this.correlator = new EventCorrelator({ ...o.correlator, clock: this.clock });
    this.queueSize = o.queueSize ?? 1000;
    this.concurrency = o.concurrency ?? 4;
    if (o.registry) {
      const registers = [o.registry];
      this.written = new Counter({ name: 'stratus_events_written_total', help: 'Events written to Cassandra', registers });
      this.droppedMetric = new Counter({
        name: 'stratus_events_dropped_total', help: 'Events not written: rate_limited (per reporter and object), queue_full, write_failed',
        labelNames: ['cause'] as const, registers,
      });
    }
  }

  /** A recorder for one reporter. */
  recorder(reporter: EventReporter): EventRecorder {
    return {
      event: (obj, type, reason, message) => {
        try {
          this.record(reporter, obj, type, reason, message);
        } catch (err) {
          this.o.logger?.warn({ err: String(err), reason }, 'could not record an event');
        }
      },
    };
  }

  private record(reporter: EventReporter, obj: Involved, type: EventType, reason: string, message: string): void {
    const c = this.correlator.correlate(reporter, referenceTo(obj), type, reason, message);
    if ('dropped' in c) return this.drop('rate_limited');
    const ev = c.event;
    if (!this.pending.has(ev.name)) {
      if (this.pending.size >= this.queueSize) return this.drop('queue_full');
      this.pending.set(ev.name, ev);
    }
    this.pump();
  }

  private drop(cause: DropCause): void {
    this.counts[cause]++;
    this.droppedMetric?.inc({ cause });
  }

  async start(signal: AbortSignal): Promise<void> {
    this.running = true;
    try {
      this.pump();
      await untilAborted(signal);
      // What is pending is still written, for a short while.
      await Promise.race([this.flush(), sleep(this.clock, this.o.flushMs ?? 2000)]);
    } finally {
      this.running = false;
    }
  }

  /** Resolves once nothing is pending or being written (written only while started). */
  flush(): Promise<void> {
    this.pump();
    if (this.pending.size === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Starts writes up to the concurrency, oldest first, one at a time per name. */
  private pump(): void {
    if (!this.running) return;
    for (const [name, ev] of this.pending) {
      if (this.inFlight.size >= this.concurrency) break;
      if (this.inFlight.has(name)) continue;
      this.pending.delete(name);
      this.inFlight.add(name);
      void this.writeOne(ev).finally(() => {
        this.inFlight.delete(name);
        this.pump();
        if (this.pending.size === 0 && this.inFlight.size === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async writeOne(ev: LoggedEvent): Promise<void> {
    try {
      if (!ev.loaded) {
        // First write of this name by this process: continue the stored count, if any.
        const stored = await this.o.sink.get(ev.namespace, ev.name);
        if (!ev.loaded && stored && stored.involvedObject.uid === ev.ref.uid) {
          ev.count += stored.count;
          ev.first = Math.min(ev.first, Date.parse(stored.firstTimestamp) || ev.first);
          ev.created = Date.parse(stored.metadata.creationTimestamp ?? '') || ev.first;
          if (stored.metadata.uid) ev.uid = stored.metadata.uid;
        }
        ev.loaded = true;
      }
      await this.o.sink.write(toEvent(ev));
      this.counts.written++;
      this.written?.inc();
    } catch (err) {
      this.drop('write_failed');
      this.o.logger?.debug({ err: String(err), event: ev.name }, 'could not write an event');
    }
  }
}

/** The core/v1 Event of an aggregated event, as it is written. */
export function toEvent(ev: LoggedEvent): EventObject {
  const r = ev.reporter;
  return {
    apiVersion: EVENT_API_VERSION,
    kind: 'Event',
    metadata: { name: ev.name, ...(ev.namespace ? { namespace: ev.namespace } : {}), uid: ev.uid, creationTimestamp: isoSeconds(ev.created) },
    involvedObject: ev.ref,
    reason: ev.reason,
    message: ev.message,
    source: { component: r.component, ...(r.host ? { host: r.host } : {}) },
    firstTimestamp: isoSeconds(ev.first),
    lastTimestamp: isoSeconds(ev.last),
    count: ev.count,
    type: ev.type,
    eventTime: null,
    reportingComponent: r.controller,
    reportingInstance: r.instance,
  };
}
