// Events as Kubernetes shapes them (core/v1 Event), and the rules the recorder, the store, the API
// and the CLI agree on: the reference to the object, the aggregation key and name, safe messages,
// the field selectors kube-apiserver supports on Events, and how ages are printed. Pure.

import { createHash } from 'node:crypto';
import type { Event, ObjectReference } from '../schemas/types.gen';
import { API_VERSION, kindByKind, type KindInfo } from '../schemas/kinds';
import type { FieldSet } from './selectors';
import type { ObjectMeta } from './types';
import { humanDuration } from './printer';

export type { ObjectReference };
export type EventType = Event['type'];

/** A core/v1 Event as stored and served (metadata typed as every object's). */
export type EventObject = Omit<Event, 'metadata'> & { metadata: ObjectMeta };

/** The API version of Events: the core group's. */
export const EVENT_API_VERSION = 'v1';

/** Events as a resource: served at /api/v1 (not under stratuslab.eu), read-only. */
export const EVENT_KIND: KindInfo = {
  kind: 'Event', plural: 'events', singular: 'event', shortNames: ['ev'], namespaced: true, schemaFile: 'event.json', categories: [],
};

/** Who reports an event: the core/v1 `source` and the reporting controller and instance. */
export interface EventReporter {
  /** source.component, e.g. stratus-scheduler */
  component: string;
  /** source.host: the Host an agent reports from */
  host?: string;
  /** reportingComponent, e.g. stratuslab.eu/scheduler */
  controller: string;
  /** reportingInstance: the replica or the agent's host */
  instance: string;
}

/** What an event can be about: any stored object (its identity only is read). */
export interface Involved {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

/** The reference of an event to its object (no resourceVersion: it would split the aggregation). */
export function referenceTo(obj: Involved): ObjectReference {
  const ref: ObjectReference = { apiVersion: obj.apiVersion ?? (kindByKind(obj.kind) ? API_VERSION : undefined), kind: obj.kind, name: obj.metadata.name };
  if (ref.apiVersion === undefined) delete ref.apiVersion;
  if (obj.metadata.namespace) ref.namespace = obj.metadata.namespace;
  if (obj.metadata.uid) ref.uid = obj.metadata.uid;
  return ref;
}

export const MAX_MESSAGE = 1024;

/**
 * A message as it may be stored: the user name, password and query of URLs removed (a download
 * URL may carry a token), control characters replaced, at most MAX_MESSAGE characters.
 */
export function safeMessage(message: string): string {
  const clean = message
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1')
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#][^\s]*/gi, '$1')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .trim();
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE - 3)}...` : clean;
}

/** The kind of a message: its numbers blanked, so "no heartbeat for 31s" and "for 45s" aggregate. */
export function messageKind(message: string): string {
  return message.replace(/\d+/g, '#');
}

/**
 * The key an event is aggregated under (client-go's getEventKey, with the message's kind instead
 * of the message): the object (and its incarnation), the reporter, the type and reason.
 */
export function aggregationKey(ref: ObjectReference, reporter: Pick<EventReporter, 'component' | 'host'>, type: EventType, reason: string, message: string): string {
  return JSON.stringify([reporter.component, reporter.host ?? '', ref.apiVersion ?? '', ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? '', ref.fieldPath ?? '', type, reason, messageKind(message)]);
}

/** An event's name: `<object name>.<16 hex digits of its aggregation key>` (names stay stable across restarts). */
export function eventName(objectName: string, key: string): string {
  return `${objectName}.${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** The name of the object an event name is about (object names carry no dots). */
export function objectNameOf(eventName: string): string {
  const i = eventName.lastIndexOf('.');
  return i < 0 ? eventName : eventName.slice(0, i);
}

/** The namespace an event about `ref` lives in: the object's project, '' for cluster-scoped objects. */
export function eventNamespace(ref: ObjectReference): string {
  return ref.namespace ?? '';
}

/** The fields a fieldSelector may name on Events (kube-apiserver's set, core/v1 names). */
export const EVENT_FIELDS: FieldSet<EventObject> = {
  'metadata.name': (e) => e.metadata.name,
  'metadata.namespace': (e) => e.metadata.namespace ?? '',
  'involvedObject.kind': (e) => e.involvedObject.kind,
  'involvedObject.namespace': (e) => e.involvedObject.namespace ?? '',
  'involvedObject.name': (e) => e.involvedObject.name,
  'involvedObject.uid': (e) => e.involvedObject.uid ?? '',
  'involvedObject.apiVersion': (e) => e.involvedObject.apiVersion ?? '',
  'involvedObject.resourceVersion': () => '',
  'involvedObject.fieldPath': (e) => e.involvedObject.fieldPath ?? '',
  reason: (e) => e.reason,
  reportingComponent: (e) => e.reportingComponent ?? '',
  source: (e) => e.source.component ?? e.reportingComponent ?? '',
  type: (e) => e.type,
};

function ms(t: string | undefined | null): number {
  const v = t ? Date.parse(t) : NaN;
  return Number.isFinite(v) ? v : 0;
}

/** The time an event sorts by (kubectl's SortableEvents): last seen. */
export function lastSeen(e: Pick<EventObject, 'lastTimestamp' | 'firstTimestamp'>): number {
  return ms(e.lastTimestamp) || ms(e.firstTimestamp);
}

/** The age of a time as kubectl prints it ("<unknown>" when unset). */
export function ageOf(t: string | undefined | null, now: number): string {
  const v = ms(t);
  return v ? humanDuration(now - v) : '<unknown>';
}

/** The Age column of `describe`'s Events (kubectl's DescribeEvents): "5m", or "2m (x3 over 10m)". */
export function eventInterval(e: Pick<EventObject, 'lastTimestamp' | 'firstTimestamp' | 'count'>, now: number): string {
  const first = ageOf(e.firstTimestamp, now);
  return (e.count ?? 1) > 1 ? `${ageOf(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
}

/** The From column of `describe`'s Events: the source component, else the reporting controller. */
export function eventFrom(e: Pick<EventObject, 'source' | 'reportingComponent'>): string {
  const c = e.source?.component || e.reportingComponent || '';
  return e.source?.host ? `${c}, ${e.source.host}` : c;
}
