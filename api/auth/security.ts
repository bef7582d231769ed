// Everything a frontend needs to know who calls and what they may do, built from AuthConfig:
// authenticators (system tokens, OIDC/JWT, LDAP), the authorizer, rate limits, the audit log, the
// admission chain (project-admin rule, networks, quota) and the quota ledger's background repair.

import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { AuthConfig } from '../../config/auth';
import { ForbiddenError } from '../../errors';
import type { ObjectStore, StoredObject } from '../../store';
import type { AuditRepository } from '../../store/audit';
import type { LeaseRepository } from '../../store/leases';
import type { QuotaRepository } from '../../store/quota';
import type { TokenRepository } from '../../store/tokens';
import { chainAdmission, type Admission } from '../admission';
import { ProjectCache } from '../project-cache';
import { NetworkAdmission } from '../networks/admission';
import { QuotaAdmission } from '../quota/admission';
import { QuotaLedger } from '../quota/ledger';
import { QuotaReconciler } from '../quota/reconciler';
import { UsageStatusWriter } from '../quota/status-writer';
import type { ListScope } from '../resources';
import type { Target } from '../target';
import { AuditLog } from './audit-log';
import { AuthenticatorChain, type Authenticator } from './authenticator';
import { Authorizer, roleIn, type Verb } from './authorizer';
import type { UserInfo } from './identity';
import { LdapAuthenticator } from './ldap-authenticator';
import { auditMiddleware, authenticationMiddleware } from './middleware';
import { OidcAuthenticator } from './oidc-authenticator';
import { ProjectAdmission } from './project-admission';
import { RateLimiter } from './rate-limiter';
import { mountAuthRoutes } from './routes';
import { TokenAuthenticator } from './token-authenticator';
import { TokenStore } from './token-store';
import { systemClock, type Clock } from '../../runtime';

/** The tables a frontend's security reads and writes, each behind its store repository. */
export interface SecurityRepositories {
  tokens: TokenRepository;
  audit: AuditRepository;
  quota: QuotaRepository;
  /** the 'quota' lease family */
  quotaLeases: LeaseRepository;
}

export interface SecurityOptions {
  repositories: SecurityRepositories;
  store: ObjectStore;
  config: AuthConfig;
  logger: Logger;
  clock?: Clock;
  /** extra authenticators tried after the configured ones (tests) */
  authenticators?: Authenticator[];
  /** counts audit records that could not be written */
  onAuditDropped?: () => void;
}

export class Security {
  readonly projects: ProjectCache;
  readonly tokens: TokenStore;
  readonly tokenAuth: TokenAuthenticator;
  readonly chain: AuthenticatorChain;
  readonly authorizer: Authorizer;
  readonly audit: AuditLog;
  readonly ledger: QuotaLedger;
  readonly usage: UsageStatusWriter;
  readonly reconciler: QuotaReconciler;
  readonly admission: Admission;
  readonly userLimiter: RateLimiter;
  readonly failureLimiter: RateLimiter;
  private readonly clock: Clock;
  private snapshot?: { at: number; projects: Promise<StoredObject[]> };

  constructor(private readonly o: SecurityOptions) {
    const c = o.config;
    this.clock = o.clock ?? systemClock;
    this.projects = new ProjectCache(o.store, c.projectCacheMs, this.clock);
    this.tokens = new TokenStore({ repository: o.repositories.tokens, clock: this.clock });
    this.tokenAuth = new TokenAuthenticator({ tokens: this.tokens, cacheMs: c.tokenCacheMs, clock: this.clock });
    const authenticators: Authenticator[] = [this.tokenAuth];
    if (c.oidc) authenticators.push(new OidcAuthenticator({ config: c.oidc, logger: o.logger, clock: o.clock }));
    if (c.ldap) authenticators.push(new LdapAuthenticator({ config: c.ldap, logger: o.logger, clock: o.clock }));
    authenticators.push(...(o.authenticators ?? []));
    this.chain = new AuthenticatorChain(authenticators);
    this.authorizer = new Authorizer({ projects: this.projects, adminGroups: c.adminGroups, monitoringGroups: c.monitoringGroups });
    this.audit = new AuditLog({ repository: o.repositories.audit, ttlSec: c.auditTtlSec, logger: o.logger, clock: this.clock, onDropped: o.onAuditDropped });
    this.userLimiter = new RateLimiter({ rate: c.rateLimitQps, burst: c.rateLimitBurst, clock: this.clock });
    this.failureLimiter = new RateLimiter({ rate: c.authFailureQps, burst: c.authFailureBurst, clock: this.clock });
    let usage: UsageStatusWriter | undefined;
    this.ledger = new QuotaLedger({ repository: o.repositories.quota, logger: o.logger, clock: this.clock, onChange: (p) => usage?.schedule(p) });
    this.usage = usage = new UsageStatusWriter({ store: o.store, ledger: this.ledger, logger: o.logger, clock: this.clock });
    this.reconciler = new QuotaReconciler({
      leases: o.repositories.quotaLeases, store: o.store, ledger: this.ledger, status: this.usage, logger: o.logger, clock: this.clock,
      resyncMs: c.quotaResyncMs, graceMs: c.quotaGraceMs,
    });
    this.admission = chainAdmission([
      new ProjectAdmission({ authorizer: this.authorizer, projects: this.projects }),
      // before quota: a refused Network or VM never raises a charge
      new NetworkAdmission({ store: o.store, isAdmin: (u) => this.authorizer.isAdmin(u) }),
      new QuotaAdmission({ ledger: this.ledger, projects: this.projects, logger: o.logger }),
    ]);
  }

  /** Koa middleware: authentication and the per-user rate limit (after the error middleware). */
  authenticate() {
    return authenticationMiddleware({ chain: this.chain, users: this.userLimiter, failures: this.failureLimiter, logger: this.o.logger });
  }

  /** Koa middleware: audit records (before the error middleware, to see final status codes). */
  auditTrail() {
    return auditMiddleware(this.audit, this.clock);
  }

  user(ctx: Context): UserInfo {
    const u = ctx.state.user as UserInfo | undefined;
    if (!u) throw new ForbiddenError('forbidden');
    return u;
  }

  /** Authorizes a resource request (throws 403). */
  async authorize(ctx: Context, t: Target, verb: Verb): Promise<void> {
    await this.authorizer.authorize(this.user(ctx), {
      verb, resource: t.kind.plural, namespaced: t.kind.namespaced, namespace: t.namespace, name: t.name, subresource: t.subresource,
    });
  }

  /** /metrics: administrators and monitoring groups. */
  authorizeMetrics(ctx: Context): void {
    const u = this.user(ctx);
    if (!this.authorizer.mayReadMetrics(u)) throw new ForbiddenError(`forbidden: User "${u.name}" cannot get path "/metrics"`);
  }

  /**
   * Monitoring and accounting reads (api/routes-metrics.ts `authorize`): a project's for its
   * members, cluster-wide ones (namespace undefined) for administrators and monitoring groups.
   */
  async authorizeMonitoring(ctx: Context, namespace: string | undefined): Promise<void> {
    const u = this.user(ctx);
    if (namespace === undefined) {
      if (!this.authorizer.mayReadMetrics(u)) throw new ForbiddenError(`metrics are forbidden: User "${u.name}" cannot list cluster-wide metrics`);
      return;
    }
    if (!(await this.authorizer.mayView(u, namespace))) {
      throw new ForbiddenError(`metrics are forbidden: User "${u.name}" cannot get metrics in the namespace "${namespace}"`, { kind: 'metrics', name: namespace });
    }
  }

  /** What a list or watch may return: undefined for everything the request names. */
  async listScope(ctx: Context, t: Target): Promise<ListScope | undefined> {
    const user = this.user(ctx);
    if (this.authorizer.isAdmin(user)) return undefined;
    if (t.kind.kind === 'Project') {
      return { filter: (p) => roleIn(p, user) !== undefined, watchFilter: async (p) => (await this.authorizer.role(user, p.metadata.name)) !== undefined };
    }
    if (t.kind.namespaced && t.allNamespaces) {
      return {
        namespaces: await this.visibleProjects(user),
        watchFilter: async (o) => (await this.authorizer.role(user, o.metadata.namespace ?? '')) !== undefined,
      };
    }
    if (t.kind.namespaced) {
      // One project, already authorized: a watch stops delivering once the user loses access.
      const ns = t.namespace;
      return { watchFilter: async () => (await this.authorizer.role(user, ns)) !== undefined };
    }
    return undefined;
  }

  /** Whether the caller may see a Project (namespace). */
  async mayViewProject(ctx: Context, name: string): Promise<boolean> {
    return this.authorizer.mayView(this.user(ctx), name);
  }

  /** The 403 for a namespace the caller may not see (does not say whether it exists). */
  namespaceForbidden(ctx: Context, name: string): ForbiddenError {
    const u = this.user(ctx);
    return new ForbiddenError(`namespaces "${name}" is forbidden: User "${u.name}" cannot get resource "namespaces" in API group "" in the namespace "${name}"`,
      { name, kind: 'namespaces' });
  }

  /** Names of the projects a user has a role in (from a snapshot of all Projects, refreshed every few seconds). */
  async visibleProjects(user: UserInfo): Promise<string[]> {
    const now = this.clock.now();
    if (!this.snapshot || now - this.snapshot.at >= Math.max(1000, this.o.config.projectCacheMs)) {
      const load = (async () => {
        const all: StoredObject[] = [];
        let cont: string | undefined;
        do {
          const page = await this.o.store.list('Project', undefined, { continue: cont, limit: 1000 });
          all.push(...page.items);
          cont = page.continue;
        } while (cont);
        return all;
      })();
      this.snapshot = { at: now, projects: load };
      load.catch(() => { if (this.snapshot?.projects === load) this.snapshot = undefined; });
    }
    const all = await this.snapshot.projects;
    return all.filter((p) => roleIn(p, user) !== undefined).map((p) => p.metadata.name);
  }

  /** Mounts /auth/v1, /admin/v1 and the SelfSubjectReview route. */
  mount(router: Router): void {
    mountAuthRoutes(router, {
      tokens: this.tokens, tokenAuth: this.tokenAuth, authorizer: this.authorizer, audit: this.audit,
      defaultTtlSec: this.o.config.tokenDefaultTtlSec, maxTtlSec: this.o.config.tokenMaxTtlSec, clock: this.clock,
    });
  }

  /** Background work: the quota ledger's deletion follower and periodic repair. */
  async start(signal: AbortSignal): Promise<void> {
    await this.reconciler.start(signal);
  }

  async close(): Promise<void> {
    this.usage.close();
    await this.audit.flush();
  }
}

