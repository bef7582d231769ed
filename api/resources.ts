// CRUD, status and watch for every kind: the Kubernetes REST semantics on top of the ObjectStore.

import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import {
  BadRequestError, ConflictError, NotFoundError, UnsupportedMediaTypeError, ErrorCode, hasCode,
} from '../errors';
import { isoSeconds } from '../kube/time';
import { API_VERSION, type KindInfo } from '../schemas/kinds';
import type { Validator, FieldValidation } from '../schemas/validate';
import type { ObjectStore, StoredObject, ObjectKey } from '../store';
import { RequestValidator } from '../schemas/requests';
import { readDeleteOptions } from './decode/delete-options';
import { decodeListOptions } from './decode/list-options';
import { applyJsonPatch, applyMergePatch, checkApplyConfiguration, decodeJsonPatch, decodeMergePatch, patchForce } from './decode/patch';
import { apply as ssaApply, conflictCauses, formatConflictMessage, trackUpdate } from './ssa';
import { readBody, sendObject, JSON_TYPES, YAML_TYPES, PATCH_TYPES, mediaType, type BodyLimits } from './negotiate';
import { dryRun, fieldManager, fieldValidation, queryString } from './request';
import { tableRequest, sendList, sendOne } from './printing';
import { Watcher } from './watch';
import { awaitResourceVersion, DEFAULT_FUTURE_RV_WAIT_MS, resourceVersionParam } from './resource-version';
import { ProjectCache } from './project-cache';
import type { FeedHub } from './feed-hub';
import { AdmissionScope, type Admission } from './admission';
import { listInNamespaces } from './scoped-list';
import { invalid } from './invalid';
import type { Target } from './target';
import { systemClock, type Clock } from '../runtime';
export type { Target };

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface ResourceOptions {
  store: ObjectStore;
  validator: Validator;
  logger: Logger;
  limits: BodyLimits;
  projects: ProjectCache;
  watch: { pollMs: number; bookmarkMs: number; maxTimeoutSeconds: number; keepAliveMs?: number; futureRvWaitMs?: number };
  hub?: FeedHub;
  onWatchOpen?: () => void;
  onWatchClose?: () => void;
  clock?: Clock;
  /** content checks and side effects around every write (project-admin rule, quota) */
  admission?: Admission;
  /** what a list or watch may return to the caller (authorization of lists); undefined: everything */
  scope?: (ctx: Context, t: Target) => Promise<ListScope | undefined>;
}

/** Restricts a list or watch to what the caller may see. */
export interface ListScope {
  /** a namespaced kind across namespaces: only these namespaces */
  namespaces?: string[];
  /** keep only the listed objects this accepts */
  filter?: (o: StoredObject) => boolean;
  /** keep only the watch events this accepts (checked per event, so lost access stops the stream) */
  watchFilter?: (o: StoredObject) => Promise<boolean>;
}

function keyOf(t: Target): ObjectKey {
  return { kind: t.kind.kind, namespace: t.namespace, name: t.name! };
}

/** A value of a request as a message shows it; never throws (String() does on {"toString": []}). */
function shown(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined';
}

export class ResourceHandlers {
  private readonly clock: Clock;
  /** schemas of DeleteOptions, ListOptions and JSON patches, compiled once */
  private readonly requests = new RequestValidator();
  constructor(private readonly o: ResourceOptions) {
    this.clock = o.clock ?? systemClock;
  }

  private now(): string {
    return isoSeconds(this.clock.now());
  }

  /** A read "not older than" a resourceVersion this server has not reached: a short wait, or 504 Too large. */
  private notNewerThanNow(rv: string | undefined): Promise<void> {
    return awaitResourceVersion(rv, { current: () => this.o.store.currentResourceVersion(), clock: this.clock, waitMs: this.o.watch.futureRvWaitMs ?? DEFAULT_FUTURE_RV_WAIT_MS });
  }

  // ---- collection ----

  async list(ctx: Context, t: Target): Promise<void> {
    // Every ListOptions parameter checked before anything is read (api/decode/list-options.ts).
    const q = decodeListOptions(ctx, this.requests, { maxTimeoutSeconds: this.o.watch.maxTimeoutSeconds });
    const { labelSelector, fieldSelector, resourceVersion } = q;
    const scope = await this.o.scope?.(ctx, t);
    if (q.watch) {
      await new Watcher({
        store: this.o.store, hub: this.o.hub, logger: this.o.logger, ...this.o.watch, clock: this.clock,
        onOpen: this.o.onWatchOpen, onClose: this.o.onWatchClose,
      }).serve(ctx, {
        kind: t.kind,
        namespace: t.allNamespaces ? undefined : t.namespace,
        labelSelector,
        fieldSelector,
        resourceVersion,
        bookmarks: q.allowWatchBookmarks,
        timeoutSeconds: q.timeoutSeconds,
        table: tableRequest(ctx),
        allow: scope?.watchFilter,
      });
      return;
    }
    const opts = { limit: q.limit, continue: q.continue, labelSelector, fieldSelector };
    await this.notNewerThanNow(resourceVersion);
    const res = scope?.namespaces
      ? await listInNamespaces(this.o.store, t.kind.kind, scope.namespaces, opts)
      : await this.o.store.list(t.kind.kind, t.allNamespaces ? undefined : t.namespace, opts);
    if (scope?.filter) res.items = res.items.filter(scope.filter);
    sendList(ctx, t.kind, res, this.clock.now());
  }

  async create(ctx: Context, t: Target): Promise<void> {
    const body = await readBody(ctx, [...JSON_TYPES, ...YAML_TYPES], this.o.limits);
    const obj = this.checkTypeMeta(body, t);
    const meta = obj.metadata;
    if (!meta.name && typeof meta['generateName'] === 'string') {
      meta.name = `${meta['generateName']}${randomBytes(3).toString('hex').slice(0, 5)}`;
    }
    delete obj.status;
    for (const f of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'managedFields']) delete meta[f];
    const validated = this.validate(obj, fieldValidation(ctx), ctx);
    await this.requireNamespace(t);
    const managed = trackUpdate(undefined, validated, { manager: fieldManager(ctx, 'unknown'), now: this.now() });
    const isDryRun = dryRun(ctx);
    const admitted = new AdmissionScope(this.o.admission);
    await admitted.admit({ ctx, target: t, next: managed, dryRun: isDryRun });
    const created = await admitted.around(() => this.o.store.create(managed, { dryRun: isDryRun }));
    ctx.status = 201;
    sendOne(ctx, t.kind, created, this.clock.now());
  }

  // ---- one object ----

  async get(ctx: Context, t: Target): Promise<void> {
    await this.notNewerThanNow(resourceVersionParam(ctx));
    sendOne(ctx, t.kind, await this.o.store.mustGet(keyOf(t)), this.clock.now());
  }

  async replace(ctx: Context, t: Target): Promise<void> {
    const body = await readBody(ctx, [...JSON_TYPES, ...YAML_TYPES], this.o.limits);
    const obj = this.checkTypeMeta(body, t);
    if (!obj.metadata.resourceVersion) {
      throw invalid(t.kind.kind, t.name!, [{ field: 'metadata.resourceVersion', reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update' }]);
    }
    const validated = this.validate(obj, fieldValidation(ctx), ctx, t.subresource);
    const manager = fieldManager(ctx, 'unknown');
    const cur = await this.o.store.mustGet(keyOf(t));
    const opts = { dryRun: dryRun(ctx) };
    const admitted = new AdmissionScope(this.o.admission);
    let out: StoredObject;
    if (t.subresource === 'status') {
      const next = trackUpdate(cur, { ...cur, status: validated.status, metadata: { ...cur.metadata, resourceVersion: obj.metadata.resourceVersion } }, { manager, now: this.now(), subresource: 'status' });
      await admitted.admit({ ctx, target: t, old: cur, next, dryRun: opts.dryRun });
      out = await admitted.around(() => this.o.store.updateStatus(next, opts));
    } else {
      const next = trackUpdate(cur, { ...validated, status: cur.status }, { manager, now: this.now() });
      next.metadata.resourceVersion = obj.metadata.resourceVersion;
      await admitted.admit({ ctx, target: t, old: cur, next, dryRun: opts.dryRun });
      out = await admitted.around(() => this.o.store.update(next, opts));
    }
    sendOne(ctx, t.kind, out, this.clock.now());
  }

  async patch(ctx: Context, t: Target): Promise<void> {
    const type = mediaType(ctx);
    if (type === 'application/strategic-merge-patch+json') {
      throw new UnsupportedMediaTypeError('strategic merge patch is not supported for stratuslab.eu resources; use a JSON merge patch (application/merge-patch+json), a JSON patch or server-side apply');
    }
    const patch = await readBody(ctx, PATCH_TYPES, this.o.limits);
    const fv = fieldValidation(ctx);
    const opts = { dryRun: dryRun(ctx) };
    if (type === 'application/apply-patch+yaml') return this.applyPatch(ctx, t, patch, fv, opts.dryRun);
    patchForce(ctx, false);
    // The patch is decoded and checked before the object is read (api/decode/patch.ts).
    const ops = type === 'application/json-patch+json'
      ? decodeJsonPatch(patch, fv, this.requests, (f) => ctx.append('Warning', `299 - "unknown field \\"${f}\\""`))
      : undefined;
    const merge = ops ? undefined : decodeMergePatch(patch);
    const manager = fieldManager(ctx, 'unknown');
    const status = t.subresource === 'status';
    const admitted = new AdmissionScope(this.o.admission);
    const out = await admitted.around(() => this.o.store.guaranteedUpdate(keyOf(t), async (cur) => {
      const patched = (ops ? applyJsonPatch(cur, ops) : applyMergePatch(cur, merge!)) as StoredObject;
      if (!patched || typeof patched !== 'object' || Array.isArray(patched) || !patched.metadata || typeof patched.metadata !== 'object') {
        throw new BadRequestError('the patch removed the object metadata');
      }
      if (patched.kind !== t.kind.kind) {
        // As Kubernetes validates a custom resource: 422 naming the field (the kind picks the schema).
        throw invalid(t.kind.kind, t.name!, [{ field: 'kind', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(patched.kind ?? null)}: must be ${t.kind.kind}` }]);
      }
      const wantRv = patched.metadata.resourceVersion;
      if (wantRv && wantRv !== cur.metadata.resourceVersion) throw new ConflictError(`Operation cannot be fulfilled on ${t.kind.plural}.stratuslab.eu "${t.name}": the object has been modified; please apply your changes to the latest version and try again`);
      this.checkIdentity(patched, t);
      const validated = this.validate(patched, fv, ctx, t.subresource);
      const next = status
        ? trackUpdate(cur, { ...cur, status: validated.status }, { manager, now: this.now(), subresource: 'status' })
        : trackUpdate(cur, { ...validated, status: cur.status }, { manager, now: this.now() });
      await admitted.admit({ ctx, target: t, old: cur, next, dryRun: opts.dryRun });
      return next;
    }, { status, dryRun: opts.dryRun }));
    sendOne(ctx, t.kind, out, this.clock.now());
  }

  private async applyPatch(ctx: Context, t: Target, body: unknown, fv: FieldValidation, isDryRun: boolean): Promise<void> {
    const manager = queryString(ctx, 'fieldManager');
    if (!manager) throw new BadRequestError('PATCH with application/apply-patch+yaml requires the fieldManager query parameter');
    const force = patchForce(ctx, true);
    checkApplyConfiguration(body, t.kind);
    const applied = this.checkTypeMeta(body, t);
    const sub = t.subresource;
    if (sub !== 'status') delete applied.status;
    // An apply configuration may be partial: it is validated once merged into the live object.
    const key = keyOf(t);
    const cur = await this.o.store.get(key, { serial: true });
    if (!cur) {
      if (sub === 'status') throw new NotFoundError(`${t.kind.plural}.stratuslab.eu "${t.name}" not found`, { name: t.name, kind: t.kind.plural });
      await this.requireNamespace(t);
      const { object } = ssaApply(undefined, applied, { manager, force, now: this.now(), defaults: this.defaulter(fv, ctx) });
      const validated = this.validate(object, fv, ctx);
      const admittedCreate = new AdmissionScope(this.o.admission);
      await admittedCreate.admit({ ctx, target: t, next: validated, dryRun: isDryRun });
      const created = await admittedCreate.around(() => this.o.store.create(validated, { dryRun: isDryRun }));
      ctx.status = 201;
      sendOne(ctx, t.kind, created, this.clock.now());
      return;
    }
    const admitted = new AdmissionScope(this.o.admission);
    const out = await admitted.around(() => this.o.store.guaranteedUpdate(key, async (latest) => {
      const { object, conflicts } = ssaApply(latest, applied, { manager, force, now: this.now(), subresource: sub === 'status' ? sub : undefined, defaults: this.defaulter(fv, ctx) });
      if (conflicts.length > 0) {
        throw new ConflictError(formatConflictMessage(conflicts), { name: t.name, kind: t.kind.plural, causes: conflictCauses(conflicts) });
      }
      const validated = this.validate(object, fv, ctx, sub);
      const next = sub === 'status' ? { ...latest, status: validated.status, metadata: validated.metadata } : { ...validated, status: latest.status };
      await admitted.admit({ ctx, target: t, old: latest, next, dryRun: isDryRun });
      return next;
    }, { status: sub === 'status', dryRun: isDryRun }));
    sendOne(ctx, t.kind, out, this.clock.now());
  }

  async remove(ctx: Context, t: Target): Promise<void> {
    // Checked before anything is read: malformed options never delete (api/decode/delete-options.ts).
    const opts = await readDeleteOptions(ctx, this.requests, this.o.limits);
    const isDryRun = opts.dryRun;
    const { object, deleted } = await this.o.store.delete(keyOf(t), { preconditions: opts.preconditions, dryRun: isDryRun });
    await this.o.admission?.deleted?.({ ctx, target: t, object, gone: deleted, dryRun: isDryRun });
    sendOne(ctx, t.kind, object, this.clock.now());
  }

  async removeCollection(ctx: Context, t: Target): Promise<void> {
    // ListOptions from the query and DeleteOptions from the body, checked before anything is read.
    const { labelSelector, fieldSelector } = decodeListOptions(ctx, this.requests, { maxTimeoutSeconds: this.o.watch.maxTimeoutSeconds });
    const del = await readDeleteOptions(ctx, this.requests, this.o.limits);
    const isDryRun = del.dryRun;
    const deleted: StoredObject[] = [];
    let cont: string | undefined;
    do {
      const page = await this.o.store.list(t.kind.kind, t.allNamespaces ? undefined : t.namespace, { labelSelector, fieldSelector, continue: cont, limit: 500 });
      for (const item of page.items) {
        const key = { kind: t.kind.kind, namespace: item.metadata.namespace ?? '', name: item.metadata.name };
        try {
          // As Kubernetes: the options, preconditions included, apply to every item.
          const r = await this.o.store.delete(key, { dryRun: isDryRun, preconditions: del.preconditions });
          await this.o.admission?.deleted?.({ ctx, target: t, object: r.object, gone: r.deleted, dryRun: isDryRun });
          deleted.push(r.object);
        } catch (err) {
          if (!hasCode(err, ErrorCode.NotFound)) throw err;
        }
      }
      cont = page.continue;
    } while (cont);
    sendList(ctx, t.kind, { items: deleted, resourceVersion: this.o.store.currentResourceVersion() }, this.clock.now());
  }

  // ---- helpers ----

  /** Checks apiVersion, kind, name and namespace of a body against the URL. */
  private checkTypeMeta(body: unknown, t: Target): StoredObject {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('the request body must be an object');
    const obj = structuredClone(body) as StoredObject;
    if (obj.apiVersion !== undefined && obj.apiVersion !== API_VERSION) {
      throw new BadRequestError(`the API version in the data (${shown(obj.apiVersion)}) does not match the expected API version (${API_VERSION})`);
    }
    if (obj.kind !== undefined && obj.kind !== t.kind.kind) {
      throw new BadRequestError(`the kind in the data (${shown(obj.kind)}) does not match the expected kind (${t.kind.kind})`);
    }
    obj.apiVersion = API_VERSION;
    obj.kind = t.kind.kind;
    if (obj.metadata === undefined) obj.metadata = {} as StoredObject['metadata'];
    if (typeof obj.metadata !== 'object' || obj.metadata === null || Array.isArray(obj.metadata)) {
      throw invalid(t.kind.kind, '', [{ field: 'metadata', reason: 'FieldValueInvalid', message: 'must be an object' }]);
    }
    this.checkIdentity(obj, t);
    return obj;
  }

  private checkIdentity(obj: StoredObject, t: Target): void {
    const meta = obj.metadata;
    if (t.name !== undefined) {
      if (meta.name === undefined) meta.name = t.name;
      else if (meta.name !== t.name) throw new BadRequestError(`the name of the object (${shown(meta.name)}) does not match the name on the URL (${t.name})`);
    }
    if (t.kind.namespaced) {
      if (meta.namespace === undefined || meta.namespace === '') meta.namespace = t.namespace;
      else if (meta.namespace !== t.namespace) {
        throw new BadRequestError(`the namespace of the provided object (${shown(meta.namespace)}) does not match the namespace sent on the request (${t.namespace})`);
      }
    } else {
      delete meta.namespace;
    }
    if (meta.name === undefined || meta.name === '') {
      throw invalid(t.kind.kind, '', [{ field: 'metadata.name', reason: 'FieldValueRequired', message: 'Required value: name or generateName is required' }]);
    }
    if (typeof meta.name !== 'string' || meta.name.length > 63 || !NAME_RE.test(meta.name)) {
      throw invalid(t.kind.kind, shown(meta.name), [{
        field: 'metadata.name', reason: 'FieldValueInvalid',
        message: `Invalid value: "${shown(meta.name)}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (at most 63 characters)`,
      }]);
    }
  }

  /** Validates against the kind's schema, applying defaults; warnings go to the Warning header. */
  private validate(obj: StoredObject, fv: FieldValidation, ctx: Context, sub?: Target['subresource']): StoredObject {
    const res = this.o.validator.validate(obj.kind, obj, { fieldValidation: fv, part: sub === 'status' ? 'status' : 'object' });
    if (!res.ok) throw invalid(obj.kind, obj.metadata.name, res.causes);
    if (fv === 'Warn') {
      for (const f of res.unknownFields) ctx.append('Warning', `299 - "unknown field \\"${f}\\""`);
    }
    return res.object as StoredObject;
  }

  /** Schema defaults, for comparing applied lists in their defaulted form. */
  private defaulter(fv: FieldValidation, ctx: Context): (o: StoredObject) => StoredObject {
    return (o) => {
      // Same mode as the request: in Strict mode an unknown field leaves the object as it is, so the
      // validation of the merged result reports it.
      const res = this.o.validator.validate(o.kind, o, { fieldValidation: fv });
      return res.ok ? (res.object as StoredObject) : o;
    };
  }

  private async requireNamespace(t: Target): Promise<void> {
    if (!t.kind.namespaced) return;
    if (!(await this.o.projects.exists(t.namespace))) {
      throw new NotFoundError(`namespaces "${t.namespace}" not found`, { name: t.namespace, kind: 'namespaces' });
    }
  }
}
