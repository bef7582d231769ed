/**
 * Where a VM's console lives on its host. Real hosts: a folder per VM in the console folder,
 * `<ns>.<name>/` (owned like the console folder, i.e. by the user qemu runs as), holding the serial
 * console's unix socket `serial.sock`, its log `serial.log` and, with spec.console.type vnc, the
 * VNC display's socket `vnc.sock`. The test driver has no real character devices: only a log file
 * path, `<ns>.<name>.log`, which nothing writes. consoleFilesOf is pure; prepare/remove touch disk.
 */
import { createHash } from 'node:crypto';
import { chown, mkdir, rm, stat } from 'node:fs/promises';
import type { VirtType } from '../domain';
import { consoleLogName } from '../names';

export interface ConsoleFiles {
  /** the VM's folder (real hosts), made before its domain is defined or started */
  dir?: string;
  /** the serial console's log */
  log: string;
  /** the serial console's unix socket (real hosts) */
  serial?: string;
  /** the VNC display's unix socket (real hosts; used when the VM asks for VNC) */
  vnc?: string;
}

/** A unix socket path is at most 107 bytes on Linux (sun_path holds 108 with the NUL). */
const MAX_SOCKET_PATH = 107;

export function consoleFilesOf(consoleDir: string, virtType: VirtType, namespace: string, name: string): ConsoleFiles {
  const base = consoleDir.replace(/\/+$/, '');
  if (virtType === 'test') return { log: `${base}/${consoleLogName(namespace, name)}` };
  let dir = `${base}/${namespace}.${name}`;
  // Long names would not fit a socket path: a short, stable name instead.
  if (Buffer.byteLength(`${dir}/serial.sock`) > MAX_SOCKET_PATH) {
    dir = `${base}/${createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 16)}`;
  }
  return { dir, log: `${dir}/serial.log`, serial: `${dir}/serial.sock`, vnc: `${dir}/vnc.sock` };
}

/**
 * Makes the VM's folder (mode 0700: its sockets give a shell in the guest), owned by the owner of
 * the console folder: qemu (run by libvirt as its own user) creates the sockets and the log there.
 */
export async function prepareConsoleDir(files: ConsoleFiles): Promise<void> {
  if (!files.dir) return;
  const parent = files.dir.slice(0, files.dir.lastIndexOf('/')) || '/';
  await mkdir(files.dir, { recursive: true, mode: 0o700 });
  const [p, d] = await Promise.all([stat(parent), stat(files.dir)]);
  if (p.uid !== d.uid || p.gid !== d.gid) await chown(files.dir, p.uid, p.gid);
}

/** Removes the VM's folder (its log with it) once nothing of the VM is left on the host. */
export async function removeConsoleDir(files: ConsoleFiles): Promise<void> {
  if (files.dir) await rm(files.dir, { recursive: true, force: true });
}
