// Well-known names shared by the parts that cooperate on one object (finalizers, annotations).

/** The finalizer the agent puts on VirtualMachines it runs. */
export const VM_FINALIZER = 'stratuslab.eu/agent';

/** The finalizer the agent puts on Volumes whose storage it holds (the same agent's finalizer). */
export const VOLUME_FINALIZER = VM_FINALIZER;

/** The VM condition with which the drain controller asks the VM's agent to stop it (status True). */
export const EVICTING_CONDITION = 'Evicting';

/** The Ready reason with which the agent answers Evicting: the domain is stopped, the VM may move. */
export const EVICTED_REASON = 'Evicted';

/** The label of hollow Hosts (libvirt's test driver): their VMs have no guest to log into. */
export const HOLLOW_HOST_LABEL = 'stratuslab.eu/hollow';
