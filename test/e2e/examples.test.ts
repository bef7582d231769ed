// Applying the examples twice through server-side apply changes nothing the second time.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { openTestApi, API, type TestApi } from '../helpers/api';
import { KINDS } from '../../schemas/kinds';
import { KIND_ORDER } from '../../cli/manifests';

let api: TestApi;
beforeAll(async () => { api = await openTestApi('examples'); });
afterAll(async () => api.close());

describe('examples', () => {
  test('applying the examples twice leaves generation and resourceVersion unchanged', async () => {
    const docs: any[] = [];
    const walk = (d: string) => {
      for (const f of fs.readdirSync(d).sort()) {
        const p = path.join(d, f);
        if (fs.statSync(p).isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(f)) docs.push(...YAML.parseAllDocuments(fs.readFileSync(p, 'utf8')).map((x) => x.toJS()).filter(Boolean));
      }
    };
    walk(path.join(__dirname, '..', '..', 'examples'));
    // the CLI's apply order (a VM after the Networks it names)
    docs.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
    const url = (d: any) => {
      const plural = KINDS.find((k) => k.kind === d.kind)!.plural;
      return d.metadata.namespace ? `${API}/namespaces/${d.metadata.namespace}/${plural}/${d.metadata.name}` : `${API}/${plural}/${d.metadata.name}`;
    };
    const first = new Map<string, any>();
    for (const d of docs) {
      const r = await api.req.patch(`${url(d)}?fieldManager=stratus`).set('Content-Type', 'application/apply-patch+yaml').send(JSON.stringify(d));
      if (![200, 201].includes(r.status)) throw new Error(`${url(d)}: ${r.status} ${r.body.message}`);
      first.set(url(d), r.body.metadata);
    }
    // Controllers and admission may write status in between (a Project's usage, written
    // asynchronously): wait until no object has changed for a second, then compare with the
    // objects as they are right before the second apply.
    const snapshot = async () => {
      for (const d of docs) first.set(url(d), (await api.req.get(url(d)).expect(200)).body.metadata);
      return docs.map((d) => first.get(url(d)).resourceVersion).join();
    };
    for (let prev = '', cur = await snapshot(), tries = 0; prev !== cur && tries < 20; tries++) {
      await new Promise((r) => setTimeout(r, 1000));
      [prev, cur] = [cur, await snapshot()];
    }
    for (const d of docs) {
      const r = await api.req.patch(`${url(d)}?fieldManager=stratus`).set('Content-Type', 'application/apply-patch+yaml').send(JSON.stringify(d)).expect(200);
      expect(r.body.metadata.resourceVersion).toBe(first.get(url(d)).resourceVersion);
      expect(r.body.metadata.generation).toBe(first.get(url(d)).generation);
    }
  });
});
