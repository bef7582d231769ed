/**
 * The domain XML of a VM: composes the small builders (metadata, compute, boot, disks, network,
 * console) into one <domain> document. Pure.
 */
import { buildBoot } from './boot';
import { buildCompute } from './compute';
import { buildConsole } from './console';
import { buildDisks } from './disks';
import { buildMetadata } from './metadata';
import { buildNetwork } from './network';
import { esc, indent } from './xml';
import type { DomainSpec } from './types';

export function buildDomainXml(spec: DomainSpec): string {
  const devices = [buildDisks(spec.disks), buildNetwork(spec.nics), buildConsole(spec.consoleLog, { vnc: spec.vnc })]
    .filter(Boolean)
    .join('\n');
  return [
    `<domain type='${esc(spec.virtType)}'>`,
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
    `</domain>`,
    '',
  ].join('\n');
}
