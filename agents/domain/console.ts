/**
 * Domain XML builder: the serial console, written to a log file on the host (status.consoleLog),
 * plus an optional VNC display.
 * Pure; one of the small builders composed by domain.ts.
 */
import { esc } from './xml';

export function buildConsole(logPath: string, options: { vnc?: boolean } = {}): string {
  const path = esc(logPath);
  const lines = [
    `<serial type='file'>`,
    `  <source path='${path}'/>`,
    `  <target port='0'/>`,
    `</serial>`,
    `<console type='file'>`,
    `  <source path='${path}'/>`,
    `  <target type='serial' port='0'/>`,
    `</console>`,
  ];
  if (options.vnc) lines.push(`<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>`);
  return lines.join('\n');
}
