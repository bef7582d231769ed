import fc from 'fast-check';
import YAML from 'yaml';
import { openTestApi, API, type TestApi } from '../helpers/api';
import { manifestOf, urlOf, SERVED_KINDS } from '../helpers/manifests';
import { malformedDeleteOptions, malformedDeleteQuery } from '../helpers/fuzz-arbitraries';
let api: TestApi;
beforeAll(async () => { api = await openTestApi('probe'); await api.req.post(`${API}/projects`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'fuzz' }, spec: {} }).expect(201);
  for (const kind of SERVED_KINDS) await api.req.post(urlOf(kind, 'fuzz')).send(manifestOf(kind, `fz-${kind.plural}`)).expect(201); });
afterAll(() => api.close());
test('probe', async () => {
  const samples = fc.sample(malformedDeleteOptions, { seed: 20240601, numRuns: 300 });
  const qs = fc.sample(malformedDeleteQuery, { seed: 20240601, numRuns: 100 });
  for (const kind of SERVED_KINDS) {
    const u = urlOf(kind, 'fuzz', `fz-${kind.plural}`);
    for (const [j, b] of samples.entries()) {
      const yaml = j % 2 === 0 && b !== null && typeof b === 'object';
      const r = await api.req.delete(u).set('Content-Type', yaml ? 'application/yaml' : 'application/json').send(yaml ? YAML.stringify(b) : JSON.stringify(b));
      const g = await api.req.get(u);
      if (r.status < 400 || g.status !== 200) { console.log(kind.plural, r.status, g.status, JSON.stringify(b), yaml, r.text.slice(0, 200)); return; }
    }
    for (const q of qs) {
      const r = await api.req.delete(`${u}?${q}`);
      const g = await api.req.get(u);
      if (r.status < 400 || g.status !== 200) { console.log(kind.plural, r.status, g.status, q, r.text.slice(0, 200)); return; }
    }
  }
});
