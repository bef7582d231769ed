// Authorization matrix: every route and verb against every role, on the caller's own project and
// on another project, including all-namespace lists and watch streams. Writes use dryRun=All, so
// the matrix runs through authentication, authorization and admission without changing anything.
import { openTestApi, readWatch, API, type TestApi } from '../helpers/api';

let api: TestApi;
const V = 'stratuslab.eu/v1alpha1';

type Who = 'anonymous' | 'admin' | 'nobody' | 'viewer' | 'editor' | 'projadmin' | 'groupeditor';
const WHO: Who[] = ['anonymous', 'admin', 'nobody', 'viewer', 'editor', 'projadmin', 'groupeditor'];
const tokens: Partial<Record<Who, string>> = {};

const project = (name: string, members: unknown[], quota?: unknown) => ({ apiVersion: V, kind: 'Project', metadata: { name }, spec: { members, ...(quota ? { quota } : {}) } });
const bodies: Record<string, (name: string) => Record<string, unknown>> = {
  virtualmachines: (name) => ({ apiVersion: V, kind: 'VirtualMachine', metadata: { name }, spec: { cpu: 1, memory: '1Gi' } }),
  volumes: (name) => ({ apiVersion: V, kind: 'Volume', metadata: { name }, spec: { size: '1Gi' } }),
  images: (name) => ({ apiVersion: V, kind: 'Image', metadata: { name }, spec: { source: { url: 'https://example.org/x.qcow2' }, format: 'qcow2' } }),
};
const PLURALS = Object.keys(bodies);

function agent(who: Who) {
  return who === 'anonymous' ? api.anon : api.as(tokens[who]!);
}

beforeAll(async () => {
  api = await openTestApi('authz');
  for (const who of ['nobody', 'viewer', 'editor', 'projadmin'] as Who[]) tokens[who] = await api.tokenFor(who);
  tokens.groupeditor = await api.tokenFor('gina', ['alpha-team']);
  tokens.admin = api.token;
  await api.req.post(`${API}/projects`).send(project('alpha', [
    { user: 'viewer', role: 'viewer' }, { user: 'editor', role: 'editor' }, { user: 'projadmin', role: 'admin' }, { group: 'alpha-team', role: 'editor' },
  ], { vms: 100 })).expect(201);
  await api.req.post(`${API}/projects`).send(project('beta', [{ user: 'someone-else', role: 'admin' }])).expect(201);
  for (const ns of ['alpha', 'beta']) {
    for (const plural of PLURALS) await api.req.post(`${API}/namespaces/${ns}/${plural}`).send(bodies[plural](`${ns}-obj`)).expect(201);
  }
  await api.req.post(`${API}/hosts`).send({ apiVersion: V, kind: 'Host', metadata: { name: 'hv-1' }, spec: {} }).expect(201);
}, 60000);
afterAll(async () => api.close());

type Access = 'read' | 'write' | 'status-write' | 'list-all' | 'none';
const ROLE_OF: Record<Who, 'admin' | 'viewer' | 'editor' | 'none'> = {
  anonymous: 'none', admin: 'admin', nobody: 'none', viewer: 'viewer', editor: 'editor', projadmin: 'editor', groupeditor: 'editor',
};

/** What a caller may do on a namespaced kind in project `ns`. */
function allowed(who: Who, ns: 'alpha' | 'beta', access: Access): boolean {
  if (who === 'admin') return true;
  if (who === 'anonymous') return false;
  if (ns === 'beta') return false;
  const role = ROLE_OF[who];
  if (access === 'read') return role !== 'none';
  if (access === 'write') return role === 'editor';
  return false; // status writes: administrators only
}

interface Case { name: string; access: Access; ok: number; send: (who: Who, ns: string, plural: string) => Promise<{ status: number; body: any }> }

const dry = '?dryRun=All';
const cases: Case[] = [
  { name: 'list', access: 'read', ok: 200, send: (w, ns, p) => agent(w).get(`${API}/namespaces/${ns}/${p}`) },
  { name: 'get', access: 'read', ok: 200, send: (w, ns, p) => agent(w).get(`${API}/namespaces/${ns}/${p}/${ns}-obj`) },
  { name: 'get status', access: 'read', ok: 200, send: (w, ns, p) => agent(w).get(`${API}/namespaces/${ns}/${p}/${ns}-obj/status`) },
  { name: 'get a missing object', access: 'read', ok: 404, send: (w, ns, p) => agent(w).get(`${API}/namespaces/${ns}/${p}/missing`) },
  { name: 'create', access: 'write', ok: 201, send: (w, ns, p) => agent(w).post(`${API}/namespaces/${ns}/${p}${dry}`).send(bodies[p]('new-obj')) },
  {
    name: 'update (PUT)', access: 'write', ok: 200, send: async (w, ns, p) => {
      const cur = (await api.req.get(`${API}/namespaces/${ns}/${p}/${ns}-obj`)).body;
      return agent(w).put(`${API}/namespaces/${ns}/${p}/${ns}-obj${dry}`).send({ ...cur, metadata: { ...cur.metadata, labels: { x: 'y' } } });
    },
  },
  { name: 'merge patch', access: 'write', ok: 200, send: (w, ns, p) => agent(w).patch(`${API}/namespaces/${ns}/${p}/${ns}-obj${dry}`).set('Content-Type', 'application/merge-patch+json').send({ metadata: { labels: { x: 'y' } } }) },
  {
    name: 'server-side apply', access: 'write', ok: 200,
    send: (w, ns, p) => agent(w).patch(`${API}/namespaces/${ns}/${p}/${ns}-obj${dry}&fieldManager=t`).set('Content-Type', 'application/apply-patch+yaml').send(JSON.stringify({ ...bodies[p](`${ns}-obj`), metadata: { name: `${ns}-obj`, labels: { a: 'b' } } })),
  },
  { name: 'delete', access: 'write', ok: 200, send: (w, ns, p) => agent(w).delete(`${API}/namespaces/${ns}/${p}/${ns}-obj${dry}`) },
  { name: 'deletecollection', access: 'write', ok: 200, send: (w, ns, p) => agent(w).delete(`${API}/namespaces/${ns}/${p}${dry}`) },
  { name: 'status merge patch', access: 'status-write', ok: 200, send: (w, ns, p) => agent(w).patch(`${API}/namespaces/${ns}/${p}/${ns}-obj/status${dry}`).set('Content-Type', 'application/merge-patch+json').send({ status: { phase: 'Failed' } }) },
  {
    name: 'status PUT', access: 'status-write', ok: 200, send: async (w, ns, p) => {
      const cur = (await api.req.get(`${API}/namespaces/${ns}/${p}/${ns}-obj`)).body;
      return agent(w).put(`${API}/namespaces/${ns}/${p}/${ns}-obj/status${dry}`).send({ ...cur, status: { phase: 'Failed' } });
    },
  },
];

describe.each(WHO)('as %s', (who) => {
  describe.each(['alpha', 'beta'] as const)('in project %s', (ns) => {
    test.each(cases.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
      for (const plural of PLURALS) {
        const r = await c.send(who, ns, plural);
        const want = who === 'anonymous' ? 401 : allowed(who, ns, c.access) ? c.ok : 403;
        if (r.status !== want) throw new Error(`${who} ${c.name} ${ns}/${plural}: ${r.status} ${JSON.stringify(r.body)} (want ${want})`);
        expect(r.body.kind === 'Status' || r.status < 300).toBe(true);
        if (r.status === 403) {
          // A refusal never shows the object, and reads the same whether or not it exists.
          expect(r.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
          expect(JSON.stringify(r.body)).not.toMatch(/"spec"|resourceVersion|uid/);
        }
      }
    });
  });

  test('a watch of a project streams only where the caller may read', async () => {
    for (const ns of ['alpha', 'beta'] as const) {
      const headers: Record<string, string> = who === 'anonymous' ? {} : { Authorization: `Bearer ${tokens[who]}` };
      const { status, events } = await readWatch(`${api.url}${API}/namespaces/${ns}/virtualmachines?watch=true&timeoutSeconds=1`, (ev) => ev.length >= 1, 5000, headers);
      const want = who === 'anonymous' ? 401 : allowed(who, ns, 'read') ? 200 : 403;
      expect([who, ns, status]).toEqual([who, ns, want]);
      if (status === 200) expect(events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: `${ns}-obj`, namespace: ns } } });
      else expect(events).toEqual([]);
    }
  });

  test('lists and watches across all projects show only the projects the caller may read', async () => {
    const visible = who === 'admin' ? ['alpha', 'beta'] : ROLE_OF[who] === 'none' ? [] : ['alpha'];
    for (const plural of PLURALS) {
      const r = await agent(who).get(`${API}/${plural}`);
      if (who === 'anonymous') {
        expect(r.status).toBe(401);
        continue;
      }
      expect(r.status).toBe(200);
      expect([...new Set(r.body.items.map((o: any) => o.metadata.namespace))].sort()).toEqual(visible);
      // Paged with limit=1: the same objects, one page at a time.
      const seen: string[] = [];
      let cont: string | undefined;
      do {
        const p = await agent(who).get(`${API}/${plural}?limit=1${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`).expect(200);
        seen.push(...p.body.items.map((o: any) => o.metadata.namespace));
        cont = p.body.metadata.continue;
      } while (cont);
      expect(seen.sort()).toEqual(visible);
    }
    if (who === 'anonymous') return;
    const { status, events } = await readWatch(`${api.url}${API}/virtualmachines?watch=true&timeoutSeconds=1`, () => false, 4000, { Authorization: `Bearer ${tokens[who]}` });
    expect(status === 200 || status === -1).toBe(true);
    expect([...new Set(events.map((e) => e.object.metadata.namespace))].sort()).toEqual(visible);
    const deleteAll = await agent(who).delete(`${API}/virtualmachines${dry}`);
    expect(deleteAll.status).toBe(who === 'admin' ? 200 : 403);
  });

  test('Projects and Namespaces: members see theirs; administrators manage them', async () => {
    const visible = who === 'admin' ? ['alpha', 'beta'] : ROLE_OF[who] === 'none' ? [] : ['alpha'];
    const a = agent(who);
    const list = await a.get(`${API}/projects`);
    const ns = await a.get('/api/v1/namespaces');
    if (who === 'anonymous') {
      expect([list.status, ns.status]).toEqual([401, 401]);
      return;
    }
    expect(list.body.items.map((p: any) => p.metadata.name).sort()).toEqual(visible);
    expect(ns.body.items.map((p: any) => p.metadata.name).sort()).toEqual(visible);
    const canRead = visible.includes('alpha');
    expect((await a.get(`${API}/projects/alpha`)).status).toBe(canRead ? 200 : 403);
    expect((await a.get('/api/v1/namespaces/alpha')).status).toBe(canRead ? 200 : 403);
    expect((await a.get(`${API}/projects/beta`)).status).toBe(who === 'admin' ? 200 : 403);
    expect((await a.get('/api/v1/namespaces/beta')).status).toBe(who === 'admin' ? 200 : 403);
    // A missing project answers like an existing one the caller may not see.
    expect((await a.get(`${API}/projects/nope`)).status).toBe(who === 'admin' ? 404 : 403);
    expect((await a.get('/api/v1/namespaces/nope')).status).toBe(who === 'admin' ? 404 : 403);
    expect((await a.post(`${API}/namespaces/nope/virtualmachines`).send(bodies.virtualmachines('x'))).status).toBe(who === 'admin' ? 404 : 403);

    const isAdmin = who === 'admin';
    const isProjAdmin = who === 'projadmin';
    expect((await a.post(`${API}/projects${dry}`).send(project('gamma', []))).status).toBe(isAdmin ? 201 : 403);
    expect((await a.delete(`${API}/projects/alpha${dry}`)).status).toBe(isAdmin ? 200 : 403);
    const members = [{ user: 'viewer', role: 'viewer' }, { user: 'editor', role: 'editor' }, { user: 'projadmin', role: 'admin' }, { group: 'alpha-team', role: 'editor' }, { user: 'new', role: 'viewer' }];
    const m = await a.patch(`${API}/projects/alpha${dry}`).set('Content-Type', 'application/merge-patch+json').send({ spec: { members } });
    expect(m.status).toBe(isAdmin || isProjAdmin ? 200 : 403);
    // Project admins change members, never the quota.
    const q = await a.patch(`${API}/projects/alpha${dry}`).set('Content-Type', 'application/merge-patch+json').send({ spec: { quota: { vms: 1000 } } });
    expect(q.status).toBe(isAdmin ? 200 : 403);
    if (isProjAdmin) expect(q.body.message).toMatch(/may change only spec\.members/);
    const st = await a.patch(`${API}/projects/alpha/status${dry}`).set('Content-Type', 'application/merge-patch+json').send({ status: { phase: 'Active' } });
    expect(st.status).toBe(isAdmin ? 200 : 403);
  });

  test('Hosts, users, tokens, audit and metrics are for administrators; discovery for everyone signed in', async () => {
    const a = agent(who);
    const isAdmin = who === 'admin';
    const signedIn = who !== 'anonymous';
    const code = (ok: number) => (isAdmin ? ok : signedIn ? 403 : 401);
    expect((await a.get(`${API}/hosts`)).status).toBe(code(200));
    expect((await a.get(`${API}/hosts/hv-1`)).status).toBe(code(200));
    expect((await a.patch(`${API}/hosts/hv-1${dry}`).set('Content-Type', 'application/merge-patch+json').send({ spec: { unschedulable: true } })).status).toBe(code(200));
    expect((await a.post(`${API}/hosts${dry}`).send({ apiVersion: V, kind: 'Host', metadata: { name: 'hv-2' }, spec: {} })).status).toBe(code(201));
    expect((await a.delete(`${API}/hosts/hv-1${dry}`)).status).toBe(code(200));
    expect((await a.get('/admin/v1/users')).status).toBe(code(200));
    expect((await a.post('/admin/v1/users').send({ name: `made-by-${who}` })).status).toBe(code(201));
    expect((await a.get('/admin/v1/tokens')).status).toBe(code(200));
    expect((await a.post('/admin/v1/tokens').send({ user: 'viewer', ttl: '1h' })).status).toBe(code(201));
    expect((await a.delete('/admin/v1/tokens/0123456789ab')).status).toBe(code(404));
    expect((await a.get('/admin/v1/audit')).status).toBe(code(200));
    expect((await a.get('/metrics')).status).toBe(code(200));
    for (const p of ['/api', '/apis', `/apis/${V}`, '/api/v1', '/openapi/v2', '/openapi/v3', '/auth/v1/whoami']) {
      expect([p, (await a.get(p)).status]).toEqual([p, signedIn ? 200 : 401]);
    }
    for (const p of ['/healthz', '/livez', '/readyz', '/version']) expect([p, (await a.get(p)).status]).toEqual([p, 200]);
  });
});

test('membership changes apply at once: a viewer made editor may write, a removed member may not read', async () => {
  const a = api.as(tokens.nobody!);
  await a.get(`${API}/namespaces/alpha/virtualmachines`).expect(403);
  const cur = (await api.req.get(`${API}/projects/alpha`)).body;
  await api.req.patch(`${API}/projects/alpha`).set('Content-Type', 'application/merge-patch+json')
    .send({ spec: { members: [...cur.spec.members, { user: 'nobody', role: 'editor' }] } }).expect(200);
  await a.post(`${API}/namespaces/alpha/virtualmachines`).send(bodies.virtualmachines('by-nobody')).expect(201);
  const w = readWatch(`${api.url}${API}/namespaces/alpha/virtualmachines?watch=true&resourceVersion=0`, () => false, 3000, { Authorization: `Bearer ${tokens.nobody}` });
  await new Promise((r) => setTimeout(r, 500));
  await api.req.patch(`${API}/projects/alpha`).set('Content-Type', 'application/merge-patch+json').send({ spec: { members: cur.spec.members } }).expect(200);
  await api.req.patch(`${API}/namespaces/alpha/virtualmachines/by-nobody`).set('Content-Type', 'application/merge-patch+json').send({ metadata: { labels: { after: 'removal' } } }).expect(200);
  await a.get(`${API}/namespaces/alpha/virtualmachines/by-nobody`).expect(403);
  // The open watch stops delivering once access is gone: the change after the removal is not sent.
  const { events } = await w;
  expect(events.some((e) => e.object?.metadata?.labels?.after === 'removal')).toBe(false);
});
