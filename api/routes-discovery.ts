// Discovery, OpenAPI and the core/v1 Namespace view of Projects: what kubectl asks before anything else.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { NotFoundError } from '../errors';
import type { Validator } from '../schemas/validate';
import type { ObjectStore, StoredObject } from '../store';
import * as d from './discovery';
import * as oa from './openapi';
import type { ProjectCache } from './project-cache';
import { failureStatus } from './status';

export interface DiscoveryDeps {
  store: ObjectStore;
  validator: Validator;
  projects: ProjectCache;
  /** authorization: whether the caller may see a Project (as a Namespace); default everyone */
  mayView?: (ctx: Context, name: string) => Promise<boolean>;
  /** the error for a Namespace the caller may not see */
  forbidden?: (ctx: Context, name: string) => Error;
}

function json(ctx: Context, body: unknown, type = 'application/json'): void {
  ctx.set('Content-Type', type);
  ctx.body = JSON.stringify(body);
}

/** A Project seen as a core/v1 Namespace. */
export function namespaceOf(p: StoredObject): Record<string, unknown> {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: {
      name: p.metadata.name, uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion,
      creationTimestamp: p.metadata.creationTimestamp, labels: { 'kubernetes.io/metadata.name': p.metadata.name, ...p.metadata.labels },
      ...(p.metadata.deletionTimestamp ? { deletionTimestamp: p.metadata.deletionTimestamp } : {}),
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: p.metadata.deletionTimestamp ? 'Terminating' : 'Active' },
  };
}

export function mountDiscovery(router: Router, deps: DiscoveryDeps): void {
  const schemaOf = (kind: string) => deps.validator.schemaOf(kind);
  let v3: { doc: unknown; hash: string } | undefined;
  const v3doc = () => {
    if (!v3) {
      const doc = oa.openApiV3GroupVersion(schemaOf);
      v3 = { doc, hash: oa.documentHash(doc) };
    }
    return v3;
  };
  let v2: unknown;

  router.get('/version', (ctx) => json(ctx, d.versionInfo()));
  router.get('/api', (ctx) => {
    const agg = d.wantsAggregated(ctx.get('Accept'));
    if (agg) json(ctx, d.aggregatedLegacyDiscovery(agg.version), agg.contentType);
    else json(ctx, d.apiVersions());
  });
  router.get('/apis', (ctx) => {
    const agg = d.wantsAggregated(ctx.get('Accept'));
    if (agg) json(ctx, d.aggregatedDiscovery(agg.version), agg.contentType);
    else json(ctx, d.apiGroupList());
  });
  router.get('/apis/stratuslab.eu', (ctx) => json(ctx, d.apiGroup()));
  router.get('/apis/stratuslab.eu/v1alpha1', (ctx) => json(ctx, d.apiResourceList()));
  router.get('/api/v1', (ctx) => json(ctx, d.coreV1ResourceList()));

  router.get('/openapi/v3', (ctx) => json(ctx, oa.openApiV3Root(v3doc().hash)));
  router.get('/openapi/v3/apis/stratuslab.eu/v1alpha1', (ctx) => {
    const { doc, hash } = v3doc();
    if (ctx.query['hash'] === hash) {
      ctx.set('Cache-Control', 'public, immutable');
      ctx.set('Expires', new Date(Date.now() + 365 * 86400_000).toUTCString());
    } else {
      ctx.set('Cache-Control', 'no-cache, private');
    }
    json(ctx, doc);
  });
  router.get('/openapi/v2', (ctx) => {
    const accept = ctx.get('Accept');
    if (accept.includes('protobuf') && !accept.includes('application/json')) {
      ctx.status = 406;
      json(ctx, failureStatus(406, 'NotAcceptable', 'only application/json is served for /openapi/v2'));
      return;
    }
    v2 ??= oa.openApiV2(schemaOf);
    json(ctx, v2);
  });

  router.get('/api/v1/namespaces', async (ctx) => {
    const items: Record<string, unknown>[] = [];
    let cont: string | undefined;
    do {
      const page = await deps.store.list('Project', undefined, { continue: cont });
      for (const p of page.items) if (!deps.mayView || await deps.mayView(ctx, p.metadata.name)) items.push(namespaceOf(p));
      cont = page.continue;
    } while (cont);
    json(ctx, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: deps.store.currentResourceVersion() }, items });
  });
  router.get('/api/v1/namespaces/:name', async (ctx) => {
    if (deps.mayView && !(await deps.mayView(ctx, ctx.params['name']))) throw deps.forbidden?.(ctx, ctx.params['name']) ?? new NotFoundError(`namespaces "${ctx.params['name']}" not found`);
    const p = await deps.store.get({ kind: 'Project', namespace: '', name: ctx.params['name'] });
    if (!p) throw new NotFoundError(`namespaces "${ctx.params['name']}" not found`, { name: ctx.params['name'], kind: 'namespaces' });
    json(ctx, namespaceOf(p));
  });
}
