/**
 * Domain XML builder: the serial console and an optional VNC display. On real hosts the serial
 * port is a unix socket qemu listens on (one client at a time: the agent's console server) and
 * still logs everything to the log file; VNC is a unix socket too. The test driver has no real
 * character devices: its serial port is the log file, its VNC a port on 127.0.0.1.
 * Pure; one of the small builders composed by domain.ts.
 */
import { esc } from './xml';

export interface ConsoleOptions {
  /** also a VNC display */
  vnc?: boolean;
  /** the serial console's unix socket (real hosts) */
  socket?: string;
  /** the VNC display's unix socket (real hosts, with `vnc`) */
  vncSocket?: string;
}

export function buildConsole(logPath: string, options: ConsoleOptions = {}): string {
  const log = esc(logPath);
  const lines = options.socket === undefined
    ? [
      `<serial type='file'>`,
      `  <source path='${log}'/>`,
      `  <target port='0'/>`,
      `</serial>`,
      `<console type='file'>`,
      `  <source path='${log}'/>`,
      `  <target type='serial' port='0'/>`,
      `</console>`,
    ]
    : [
      `<serial type='unix'>`,
      `  <source mode='bind' path='${esc(options.socket)}'/>`,
      `  <target port='0'/>`,
      `  <log file='${log}' append='on'/>`,
      `</serial>`,
      `<console type='unix'>`,
      `  <source mode='bind' path='${esc(options.socket)}'/>`,
      `  <target type='serial' port='0'/>`,
      `</console>`,
    ];
  if (options.vnc) {
    lines.push(options.vncSocket === undefined
      ? `<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>`
      : `<graphics type='vnc' socket='${esc(options.vncSocket)}'/>`);
  }
  return lines.join('\n');
}
