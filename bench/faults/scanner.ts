// The "never twice" scan: every ~200 ms, every agent's GET /debug/domains (what libvirt says each
// of its hosts runs: hollow hosts live inside the agent process, so no other process can open their
// test:/// connection). A VM uid seen running on two hosts in one round is a violation.
//
// Shape (H3): {"hosts":[{"host","lease","domains":[{"name","uuid","vm":"ns/name","uid","state"}]}]}

export interface DebugDomains {
  hosts: { host: string; lease?: string; domains: { name: string; uuid?: string; vm?: string; uid?: string; state?: string }[] }[];
}

/** libvirt states of a domain that holds the guest (a paused guest still owns its disks and memory). */
const ACTIVE = new Set(['running', 'paused', 'blocked', 'pmsuspended']);

export interface TwiceSighting {
  at: number;
  uid: string;
  vm?: string;
  hosts: string[];
}

export class DomainScanner {
  rounds = 0;
  /** agents that answered at least once; those that never did (404: no endpoint yet) are reported */
  readonly answered = new Set<string>();
  readonly unavailable = new Map<string, string>();
  readonly twice: TwiceSighting[] = [];
  /** uid → host it was last seen running on */
  readonly lastSeen = new Map<string, { host: string; at: number; vm?: string }>();
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly agents: () => { name: string; url: string }[], private readonly periodMs = 200) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const t0 = Date.now();
        await this.round();
        await new Promise((r) => setTimeout(r, Math.max(0, this.periodMs - (Date.now() - t0))));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  get available(): boolean {
    return this.answered.size > 0;
  }

  private async round(): Promise<void> {
    const at = Date.now();
    const results = await Promise.all(this.agents().map(async (a) => {
      try {
        const r = await fetch(`${a.url}/debug/domains`, { signal: AbortSignal.timeout(1000) });
        if (r.status !== 200) {
          await r.arrayBuffer();
          if (!this.answered.has(a.name)) this.unavailable.set(a.name, `HTTP ${r.status}`);
          return undefined;
        }
        const body = (await r.json()) as DebugDomains;
        this.answered.add(a.name);
        this.unavailable.delete(a.name);
        return body;
      } catch {
        // a killed or frozen agent: nothing to see this round
        return undefined;
      }
    }));
    this.rounds++;
    const where = new Map<string, { hosts: Set<string>; vm?: string }>();
    for (const body of results) {
      for (const h of body?.hosts ?? []) {
        for (const d of h.domains ?? []) {
          if (!d.uid || !ACTIVE.has(d.state ?? 'running')) continue;
          const w = where.get(d.uid) ?? { hosts: new Set<string>(), vm: d.vm };
          w.hosts.add(h.host);
          where.set(d.uid, w);
          this.lastSeen.set(d.uid, { host: h.host, at, vm: d.vm });
        }
      }
    }
    for (const [uid, w] of where) if (w.hosts.size > 1) this.twice.push({ at, uid, vm: w.vm, hosts: [...w.hosts] });
  }

  /** Distinct VMs seen running twice at or after `from`. */
  twiceSince(from = 0): number {
    return new Set(this.twice.filter((t) => t.at >= from).map((t) => t.uid)).size;
  }
}
