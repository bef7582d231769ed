// Well-known names shared by the parts that cooperate on one object (finalizers, annotations).

/** The finalizer the agent puts on VirtualMachines it runs. */
export const VM_FINALIZER = 'stratuslab.eu/agent';

/** The finalizer the agent puts on Volumes whose storage it holds (the same agent's finalizer). */
export const VOLUME_FINALIZER = VM_FINALIZER;
