// Authorization: who may do what. Cluster administrators (configured groups) may do everything;
// everyone else acts inside Projects by role:
//   viewer  get, list, watch VMs, Volumes, Images and the Project itself
//   editor  + create, update, patch, delete VMs, Volumes, Images
//   admin   + change the Project's members (content checked at admission)
// Hosts, Project creation and deletion, quotas, status writes and users are for administrators.
// A refusal is a 403 that names neither the object's content nor whether it exists, as Kubernetes.

import { ForbiddenError } from '../../errors';
import { GROUP } from '../../schemas/kinds';
import type { StoredObject } from '../../store';
import type { UserInfo } from './identity';

export type Role = 'viewer' | 'editor' | 'admin';
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };
const READ: ReadonlySet<Verb> = new Set(['get', 'list', 'watch']);

export interface ResourceRequest {
  verb: Verb;
  /** plural, e.g. virtualmachines */
  resource: string;
  namespaced: boolean;
  /** '' for cluster-scoped kinds and all-namespace requests */
  namespace: string;
  name?: string;
  subresource?: string;
}

/** Reads Projects (cached); see api/project-cache.ts. */
export interface ProjectLookup {
  lookup(name: string): Promise<StoredObject | undefined>;
}

export interface AuthorizerOptions {
  projects: ProjectLookup;
  /** groups whose members are cluster administrators */
  adminGroups: string[];
  /** groups that may read /metrics besides administrators */
  monitoringGroups?: string[];
}

interface Member { user?: string; group?: string; role?: string }

/** The highest role `user` has in `project` (through its name or a group), or undefined. */
export function roleIn(project: StoredObject | undefined, user: UserInfo): Role | undefined {
  if (!project || project.metadata.deletionTimestamp) return undefined;
  const members = (project.spec?.['members'] as Member[] | undefined) ?? [];
  let best: Role | undefined;
  for (const m of members) {
    const role = m.role as Role;
    if (!(role in RANK)) continue;
    const matches = (m.user !== undefined && m.user === user.name) || (m.group !== undefined && user.groups.includes(m.group));
    if (matches && (!best || RANK[role] > RANK[best])) best = role;
  }
  return best;
}

export class Authorizer {
  private readonly admins: Set<string>;
  private readonly monitoring: Set<string>;

  constructor(private readonly o: AuthorizerOptions) {
    this.admins = new Set(o.adminGroups);
    this.monitoring = new Set(o.monitoringGroups ?? []);
  }

  isAdmin(user: UserInfo): boolean {
    return user.groups.some((g) => this.admins.has(g));
  }

  mayReadMetrics(user: UserInfo): boolean {
    return this.isAdmin(user) || user.groups.some((g) => this.monitoring.has(g));
  }

  async role(user: UserInfo, project: string): Promise<Role | undefined> {
    return roleIn(await this.o.projects.lookup(project), user);
  }

  /** Whether `user` may see the Project `name` (and list, watch the objects in it). */
  async mayView(user: UserInfo, project: string): Promise<boolean> {
    return this.isAdmin(user) || (await this.role(user, project)) !== undefined;
  }

  /** Allows the request or throws a Kubernetes-style 403. */
  async authorize(user: UserInfo, r: ResourceRequest): Promise<void> {
    if (this.isAdmin(user)) return;
    if (await this.allowed(user, r)) return;
    throw forbidden(user, r);
  }

  private async allowed(user: UserInfo, r: ResourceRequest): Promise<boolean> {
    const read = READ.has(r.verb);
    if (r.resource === 'hosts') return false;
    if (r.resource === 'projects') {
      if (r.name === undefined) return r.verb === 'list' || r.verb === 'watch';
      const role = await this.role(user, r.name);
      if (!role) return false;
      if (read) return true;
      // Project admins may change members (checked against the rest at admission); never status.
      return (r.verb === 'update' || r.verb === 'patch') && r.subresource === undefined && role === 'admin';
    }
    if (!r.namespaced) return false;
    if (r.namespace === '') return r.verb === 'list' || r.verb === 'watch';
    const role = await this.role(user, r.namespace);
    if (!role) return false;
    if (read) return true;
    if (r.subresource === 'status') return false;
    return RANK[role] >= RANK.editor;
  }
}

/** The 403 of a refused request, worded as Kubernetes words it. */
export function forbidden(user: UserInfo, r: ResourceRequest): ForbiddenError {
  const what = `${r.resource}.${GROUP}${r.name !== undefined ? ` "${r.name}"` : ''}`;
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  const where = r.namespace ? ` in the namespace "${r.namespace}"` : ' at the cluster scope';
  return new ForbiddenError(
    `${what} is forbidden: User "${user.name}" cannot ${r.verb} resource "${resource}" in API group "${GROUP}"${where}`,
    { name: r.name, group: GROUP, kind: r.resource },
  );
}
