// The SSH port forwards of a real host: one port per VM from the range, stable, never shared,
// never one that cannot be bound.
import { createServer, type Server } from 'node:net';
import { ForwardPorts, canBind } from '../../agents/host/forwards';

test('the lowest free port, kept per VM; ports held by domains (claimed) are skipped', async () => {
  const f = new ForwardPorts({ address: '127.0.0.1', from: 22000, to: 22003, probe: async () => true });
  f.claim('demo/old', 22000);
  expect(await f.ensure('demo/a')).toBe(22001);
  expect(await f.ensure('demo/a')).toBe(22001);
  expect(await Promise.all([f.ensure('demo/b'), f.ensure('demo/c')])).toEqual([22002, 22003]);
  expect(await f.ensure('demo/d')).toBeUndefined();
  f.release('demo/b');
  expect(await f.ensure('demo/d')).toBe(22002);
  expect(f.get('demo/b')).toBeUndefined();
});

test('a claim never takes another VM\'s port; re-claiming moves the VM', () => {
  const f = new ForwardPorts({ address: '127.0.0.1', from: 1, to: 10, probe: async () => true });
  f.claim('a', 5);
  f.claim('b', 5);
  expect(f.get('b')).toBeUndefined();
  f.claim('a', 6);
  f.claim('b', 5);
  expect([f.get('a'), f.get('b')]).toEqual([6, 5]);
});

test('a port another program holds is not given out', async () => {
  const server: Server = createServer();
  const port = await new Promise<number>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve((server.address() as { port: number }).port)));
  try {
    expect(await canBind('127.0.0.1', port)).toBe(false);
    const f = new ForwardPorts({ address: '127.0.0.1', from: port, to: port + 1 });
    const got = await f.ensure('demo/a');
    expect(got).not.toBe(port);
  } finally {
    server.close();
  }
});

test('a bad range is refused', () => {
  expect(() => new ForwardPorts({ address: '127.0.0.1', from: 30, to: 20 })).toThrow(/range/);
});
