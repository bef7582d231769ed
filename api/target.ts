// The target of an API request: which kind, project and object a URL addresses.

import type { KindInfo } from '../schemas/kinds';

/** What a resource URL addresses. */
export interface Target {
  kind: KindInfo;
  /** '' for cluster-scoped kinds or an all-namespaces request */
  namespace: string;
  name?: string;
  /** true for /apis/.../{plural} on a namespaced kind */
  allNamespaces: boolean;
  /** status, a VM action (api/actions/), a VM's console, VNC display or console log (api/console/), a Network's leases (api/networks/) */
  subresource?: 'status' | 'start' | 'stop' | 'restart' | 'console' | 'vnc' | 'log' | 'leases';
}
