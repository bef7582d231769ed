// The load of the fault scenarios: API clients that behave like the stratus CLI (fail over to the
// next frontend on a connection error, retry 5xx and 429 with backoff) and count what they saw.
// Object names are chosen by the caller, so a retried create can never make a second object: a
// 409 AlreadyExists on a retry means the first attempt was stored.

import { Agent, fetch as undiciFetch } from 'undici';

export const API = '/apis/stratuslab.eu/v1alpha1';

/** One attempt: when, and its outcome ("2xx", "409", "503", "ECONNREFUSED", ...). */
export interface Attempt {
  at: number;
  outcome: string;
  ok: boolean;
}

/** What the clients saw, shared by every client of a scenario. */
export class ClientStats {
  readonly attempts: Attempt[] = [];
  requests = 0;
  acknowledged = 0;
  retries = 0;
  /** requests given up after every retry */
  failed = 0;

  record(outcome: string, ok: boolean): void {
    this.attempts.push({ at: Date.now(), outcome, ok });
  }

  /** Failed attempts by status or error code. */
  errors(from = 0, to = Infinity): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.attempts) if (!a.ok && a.at >= from && a.at <= to) out[a.outcome] = (out[a.outcome] ?? 0) + 1;
    return out;
  }

  /** Share of failed attempts in [from, to] (0 when there were none). */
  errorRate(from = 0, to = Infinity): number {
    let n = 0;
    let bad = 0;
    for (const a of this.attempts) {
      if (a.at < from || a.at > to) continue;
      n++;
      if (!a.ok) bad++;
    }
    return n === 0 ? 0 : bad / n;
  }
}

export interface Response {
  status: number;
  body: any;
}

export interface ApiClientOptions {
  servers: string[];
  token: string;
  stats: ClientStats;
  /** the server tried first (clients spread over the frontends) */
  first?: number;
  /** how long one request keeps retrying, default 120 s */
  retryForMs?: number;
  /** PEM of the CA of https frontends (npm run up's local CA) */
  ca?: string;
}

const RETRIED_STATUS = (s: number) => s >= 500 || s === 429;

export class ApiClient {
  private current: number;
  private readonly dispatcher?: Agent;
  constructor(private readonly o: ApiClientOptions) {
    this.current = (o.first ?? 0) % o.servers.length;
    if (o.ca) this.dispatcher = new Agent({ connect: { ca: o.ca } });
  }

  /**
   * One request, retried like the CLI: on a connection error the next frontend, on 5xx/429 the
   * same request again after a backoff (capped at 2 s) until retryForMs. Other statuses return.
   */
  async request(method: string, path: string, body?: unknown): Promise<Response & { attempts: number }> {
    const stats = this.o.stats;
    stats.requests++;
    const end = Date.now() + (this.o.retryForMs ?? 120_000);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) stats.retries++;
      const server = this.o.servers[this.current];
      let outcome: string;
      try {
        const r = await undiciFetch(`${server}${path}`, {
          method, dispatcher: this.dispatcher,
          headers: { authorization: `Bearer ${this.o.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await r.text();
        outcome = String(r.status);
        const ok = r.status < 500 && r.status !== 429;
        stats.record(r.status < 400 ? '2xx' : outcome, r.status < 400 || (r.status === 409 && attempt > 0) || r.status === 404);
        if (ok) return { status: r.status, body: text ? JSON.parse(text) : undefined, attempts: attempt + 1 };
      } catch (err) {
        const e = err as { cause?: { code?: string }; name?: string };
        outcome = e.cause?.code ?? e.name ?? 'error';
        stats.record(outcome, false);
        // The CLI's failover: the next frontend.
        this.current = (this.current + 1) % this.o.servers.length;
      }
      if (Date.now() > end) {
        stats.failed++;
        throw new Error(`${method} ${path}: gave up after ${attempt + 1} attempts (last: ${outcome})`);
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
    }
  }

  /** Creates a VM named by the caller; true when acknowledged (201, or 409 on a retry: the first attempt was stored). */
  async createVm(namespace: string, name: string, labels: Record<string, string>): Promise<boolean> {
    const r = await this.request('POST', `${API}/namespaces/${namespace}/virtualmachines`, vmManifest(name, labels));
    const acked = r.status < 300 || (r.status === 409 && r.attempts > 1 && r.body?.reason === 'AlreadyExists');
    if (acked) this.o.stats.acknowledged++;
    return acked;
  }

  async get(path: string): Promise<any> {
    const r = await this.request('GET', path);
    if (r.status >= 300) throw new Error(`GET ${path}: ${r.status} ${r.body?.message ?? ''}`);
    return r.body;
  }

  /** Every item of a list, following `continue`. */
  async listAll(path: string, pageSize = 500): Promise<any[]> {
    const items: any[] = [];
    let cont = '';
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await this.get(`${path}${sep}limit=${pageSize}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue ?? '';
    } while (cont);
    return items;
  }

  async listVms(namespace: string, labelSelector?: string): Promise<any[]> {
    return this.listAll(`${API}/namespaces/${namespace}/virtualmachines${labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''}`);
  }
}

/** The smallest VM: no disks (so moves have no data to carry), hollow hosts have room for hundreds. */
export function vmManifest(name: string, labels: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, labels }, spec: { cpu: 1, memory: '64Mi', runStrategy: 'Always' } };
}

/** Clients spread over the frontends, sharing one stats object. */
export function clients(n: number, servers: string[], token: string, stats: ClientStats): ApiClient[] {
  return Array.from({ length: n }, (_, i) => new ApiClient({ servers, token, stats, first: i }));
}

/**
 * Creates `names` through `cs` concurrently (each client takes the next name); returns the
 * acknowledged names. `onProgress(acked)` runs after each acknowledgement (to inject a fault mid-way).
 */
export async function createMany(cs: ApiClient[], namespace: string, names: string[], labels: Record<string, string>, onProgress?: (acked: number) => void): Promise<string[]> {
  const acked: string[] = [];
  let next = 0;
  await Promise.all(cs.map(async (c) => {
    for (;;) {
      const i = next++;
      if (i >= names.length) return;
      try {
        if (await c.createVm(namespace, names[i], labels)) {
          acked.push(names[i]);
          onProgress?.(acked.length);
        }
      } catch {
        // given up: counted in stats.failed; not acknowledged, so not expected to exist
      }
    }
  }));
  return acked;
}

/**
 * Background readers until `signal` aborts: each client gets a random known VM or lists a page,
 * so the error rate during a fault covers reads as well as writes.
 */
export async function readLoad(cs: ApiClient[], namespace: string, known: () => string[], signal: AbortSignal): Promise<void> {
  await Promise.all(cs.map(async (c, i) => {
    while (!signal.aborted) {
      const names = known();
      try {
        if (i % 2 === 0 && names.length) await c.request('GET', `${API}/namespaces/${namespace}/virtualmachines/${names[Math.floor(Math.random() * names.length)]}`);
        else await c.request('GET', `${API}/namespaces/${namespace}/virtualmachines?limit=50`);
      } catch {
        // counted
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }));
}
