// Domain XML builder: serial console to a log file, optional VNC.
import { buildConsole } from '../../agents/domain';

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
