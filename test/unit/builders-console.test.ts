// Domain XML builder: the serial console (a log file on the test driver; a unix socket logged to a
// file on real hosts), and an optional VNC display (a local port, or a unix socket).
import { buildConsole, fingerprintDiff, fingerprintOf } from '../../agents/domain';
import { consoleFilesOf } from '../../agents/console/files';

test('serial port 0 and the console both write to the log file', () => {
  const xml = buildConsole('/var/log/stratus/demo.web-1.log');
  expect(xml.match(/<source path='\/var\/log\/stratus\/demo\.web-1\.log'\/>/g)).toHaveLength(2);
  expect(xml).toContain("<serial type='file'>");
  expect(xml).toContain("<target type='serial' port='0'/>");
  expect(xml).not.toContain('graphics');
});

test('vnc adds a local display', () => {
  expect(buildConsole('/l', { vnc: true })).toContain("<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>");
});

test('with a socket, qemu listens on it for one client and still logs everything to the file', () => {
  const xml = buildConsole('/c/demo.web/serial.log', { socket: '/c/demo.web/serial.sock' });
  expect(xml).toContain("<serial type='unix'>");
  expect(xml.match(/<source mode='bind' path='\/c\/demo\.web\/serial\.sock'\/>/g)).toHaveLength(2);
  expect(xml).toContain("<log file='/c/demo.web/serial.log' append='on'/>");
  expect(xml).toContain("<console type='unix'>");
  expect(buildConsole('/l', { socket: '/s', vnc: true, vncSocket: '/c/vnc.sock' })).toContain("<graphics type='vnc' socket='/c/vnc.sock'/>");
});

test('the fingerprint tells a file console from a socket, and sees the VNC display come and go', () => {
  const wrap = (devices: string) => `<domain type='qemu'><devices>${devices}</devices></domain>`;
  const file = fingerprintOf(wrap(buildConsole('/c/demo.web.log')));
  const sock = fingerprintOf(wrap(buildConsole('/c/demo.web/serial.log', { socket: '/c/demo.web/serial.sock' })));
  const vnc = fingerprintOf(wrap(buildConsole('/c/demo.web/serial.log', { socket: '/c/demo.web/serial.sock', vnc: true, vncSocket: '/c/demo.web/vnc.sock' })));
  expect(sock).toMatchObject({ serial: '/c/demo.web/serial.sock', serialLog: '/c/demo.web/serial.log' });
  expect(fingerprintDiff(sock, file)).toEqual(expect.arrayContaining(['serial', 'serialLog']));
  expect(fingerprintDiff(vnc, sock)).toEqual(['graphics']);
  expect(vnc.graphics).toBe('vnc:/c/demo.web/vnc.sock');
  // libvirt's read-back adds a <listen> child: still the same display
  const readBack = fingerprintOf(wrap("<graphics type='vnc' socket='/c/demo.web/vnc.sock'>\n<listen type='socket' socket='/c/demo.web/vnc.sock'/>\n</graphics>"));
  expect(readBack.graphics).toBe(vnc.graphics);
});

test('console files: a folder per VM on real hosts, a short stable name when the socket path would be too long', () => {
  expect(consoleFilesOf('/s/console/', 'qemu', 'demo', 'web')).toEqual({
    dir: '/s/console/demo.web', log: '/s/console/demo.web/serial.log', serial: '/s/console/demo.web/serial.sock', vnc: '/s/console/demo.web/vnc.sock',
  });
  expect(consoleFilesOf('/s/console', 'test', 'demo', 'web')).toEqual({ log: '/s/console/demo.web.log' });
  const long = consoleFilesOf('/var/lib/stratus/agent/console', 'kvm', 'a'.repeat(40), 'b'.repeat(40));
  expect(long.dir).toMatch(/^\/var\/lib\/stratus\/agent\/console\/[0-9a-f]{16}$/);
  expect(Buffer.byteLength(long.serial!)).toBeLessThanOrEqual(107);
  expect(consoleFilesOf('/var/lib/stratus/agent/console', 'kvm', 'a'.repeat(40), 'b'.repeat(40))).toEqual(long);
});
