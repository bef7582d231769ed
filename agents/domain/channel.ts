/**
 * Domain XML builder: the qemu guest agent's virtio-serial channel, through which libvirt asks the
 * guest for its interfaces and addresses. Its socket is at `path` when given; else libvirt picks
 * one under its own folder (for a session libvirtd, under its HOME: too long a HOME makes the
 * path exceed the 107 bytes of a unix socket, and the domain fails to start).
 * Pure; one of the small builders composed by domain.ts.
 */
import { esc } from './xml';

/** The channel name qemu-guest-agent listens on in the guest. */
export const GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0';

export function buildGuestAgentChannel(path?: string): string {
  const source = path !== undefined ? [`  <source mode='bind' path='${esc(path)}'/>`] : [];
  return [`<channel type='unix'>`, ...source, `  <target type='virtio' name='${GUEST_AGENT_CHANNEL}'/>`, `</channel>`].join('\n');
}
