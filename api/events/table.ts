// The meta.k8s.io Table of core/v1 Events for `kubectl get events`: kube-apiserver's columns and
// cells (pkg/printers/internalversion printEvent): Last Seen, Type, Reason, Object, Message, and
// with -o wide Subobject, Source, First Seen, Count, Name. Pure.

import { ageOf, type EventObject } from '../../kube/events';
import type { ListMeta, TableRow } from '../../kube/wire';
import type { IncludeObject } from '../printing';
import type { SentColumn, SentTable, TableVersion } from '../table';

const col = (name: string, description: string, priority: 0 | 1 = 0, format = ''): SentColumn => ({ name, type: 'string', format, description, priority });

export const EVENT_COLUMNS: SentColumn[] = [
  col('Last Seen', 'Time since the event was last seen.'),
  col('Type', 'Normal or Warning.'),
  col('Reason', 'Why the event happened, in one word.'),
  col('Object', 'The object the event is about.'),
  col('Subobject', 'The part of the object the event is about.', 1),
  col('Source', 'The component (and host) that reported it.', 1),
  col('Message', 'What happened.'),
  col('First Seen', 'Time since the event was first seen.', 1),
  col('Count', 'How many times it was seen.', 1),
  col('Name', 'The event\'s name.', 1, 'name'),
];

/** The cells of one Event, in EVENT_COLUMNS order. */
export function eventCells(e: EventObject, now: number): (string | number)[] {
  const first = ageOf(e.firstTimestamp, now);
  const last = e.lastTimestamp ? ageOf(e.lastTimestamp, now) : first;
  const ref = e.involvedObject;
  const object = ref.name ? `${ref.kind.toLowerCase()}/${ref.name}` : ref.kind.toLowerCase();
  const component = e.source?.component || e.reportingComponent || '';
  const instance = e.source?.host || e.reportingInstance || '';
  return [
    last, e.type, e.reason, object, ref.fieldPath ?? '', instance ? `${component}, ${instance}` : component,
    (e.message ?? '').trim(), first, e.count || 1, e.metadata.name,
  ];
}

export interface EventTableOptions {
  includeObject?: IncludeObject;
  resourceVersion?: string;
  continue?: string;
  /** leave columnDefinitions empty (watch events after the first) */
  noHeaders?: boolean;
  /** ms since the epoch, for the ages */
  now: number;
  version?: TableVersion;
}

/** A Table of Events, as `kubectl get events` asks for it. */
export function eventsTable(events: readonly EventObject[], o: EventTableOptions): SentTable {
  const version = o.version ?? 'v1';
  const include = o.includeObject ?? 'Metadata';
  const metadata: ListMeta = {};
  if (o.resourceVersion !== undefined) metadata.resourceVersion = o.resourceVersion;
  if (o.continue) metadata.continue = o.continue;
  const rows: TableRow[] = events.map((e) => {
    const row: TableRow = { cells: eventCells(e, o.now) };
    if (include === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: e.metadata };
    else if (include === 'Object') row.object = e;
    return row;
  });
  return { kind: 'Table', apiVersion: `meta.k8s.io/${version}`, metadata, columnDefinitions: o.noHeaders ? [] : EVENT_COLUMNS.map((c) => ({ ...c })), rows };
}
