// Project admins (role admin in a Project, not cluster administrators) may change the Project's
// members, and nothing else of it: the quota, description, labels and the rest stay with the
// cluster administrators. Every Project write through this frontend also refreshes its cache, so
// a membership change applies at once here (other frontends within STRATUS_PROJECT_CACHE_MS).

import { ForbiddenError } from '../../errors';
import { jsonEqual } from '../../kube/equal';
import type { StoredObject } from '../../store';
import type { Admission, AdmissionRequest, Admitted, DeletionRequest } from '../admission';
import type { Authorizer } from './authorizer';
import type { UserInfo } from './identity';

export interface ProjectAdmissionOptions {
  authorizer: Authorizer;
  projects: { forget(name: string): void };
}

function beyondMembers(o: StoredObject): unknown {
  const { members: _members, ...spec } = (o.spec ?? {}) as Record<string, unknown>;
  const m = o.metadata;
  return { spec, labels: m.labels ?? {}, annotations: m.annotations ?? {}, finalizers: m.finalizers ?? [], owners: m['ownerReferences'] ?? [] };
}

export class ProjectAdmission implements Admission {
  constructor(private readonly o: ProjectAdmissionOptions) {}

  async admit(req: AdmissionRequest): Promise<Admitted | undefined> {
    const { ctx, target, old, next } = req;
    if (target.kind.kind !== 'Project') return undefined;
    const user = ctx.state.user as UserInfo | undefined;
    if (old && user && !target.subresource && !this.o.authorizer.isAdmin(user) && !jsonEqual(beyondMembers(old), beyondMembers(next))) {
      throw new ForbiddenError(
        `projects.stratuslab.eu "${next.metadata.name}" is forbidden: User "${user.name}" may change only spec.members of this project; its quota, description and metadata are changed by cluster administrators`,
        { name: next.metadata.name, group: 'stratuslab.eu', kind: 'projects' },
      );
    }
    const name = next.metadata.name;
    return { commit: () => this.o.projects.forget(name), abort: () => undefined };
  }

  async deleted(req: DeletionRequest): Promise<void> {
    if (req.target.kind.kind === 'Project') this.o.projects.forget(req.object.metadata.name);
  }
}
