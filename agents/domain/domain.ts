/**
 * The domain XML of a VM: composes the small builders (metadata, compute, boot, disks, network,
 * console) into one <domain> document. Pure.
 */
import { buildBoot } from './boot';
import { buildCompute } from './compute';
import { buildConsole } from './console';
import { buildDisks } from './disks';
import { buildMetadata } from './metadata';
import { QEMU_NS, buildNetwork, buildQemuCommandline, userNetArgs } from './network';
import { buildGuestAgentChannel } from './channel';
import { esc, indent } from './xml';
import type { DomainSpec } from './types';

export function buildDomainXml(spec: DomainSpec): string {
  const commandLine = spec.userNet !== undefined;
  const devices = [
    buildDisks(spec.disks, spec.seed),
    buildNetwork(spec.nics, { commandLine }),
    buildConsole(spec.consoleLog, { vnc: spec.vnc, socket: spec.consoleSocket, vncSocket: spec.vncSocket }),
    spec.guestAgent ? buildGuestAgentChannel(spec.guestAgentSocket) : '',
  ]
    .filter(Boolean)
    .join('\n');
  const qemu = commandLine ? buildQemuCommandline(userNetArgs(spec.nics, spec.userNet?.forward)) : '';
  return [
    `<domain type='${esc(spec.virtType)}'${qemu ? ` xmlns:qemu='${QEMU_NS}'` : ''}>`,
    `  <name>${esc(spec.name)}</name>`,
    `  <uuid>${esc(spec.uuid)}</uuid>`,
    indent(buildMetadata(spec.owner), 2),
    indent(buildCompute(spec), 2),
    indent(buildBoot(spec), 2),
    `  <clock offset='utc'/>`,
    // The agent decides what happens after a stop (runStrategy), so libvirt never restarts by itself.
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>restart</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    indent(devices, 4),
    `  </devices>`,
    ...(qemu ? [indent(qemu, 2)] : []),
    `</domain>`,
    '',
  ].join('\n');
}
