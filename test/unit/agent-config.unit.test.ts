// loadAgentConfig(): flags over environment, defaults, validation; Host capacity arithmetic.
import { loadAgentConfig, parseLabels } from '../../config/agent';
import { hostAllocatable, hostCapacity, versionString } from '../../agents/host/capacity';

test('defaults, then environment, then flags', () => {
  const d = loadAgentConfig({}, { STRATUS_AGENT_HOST: 'hv-1' });
  expect(d).toMatchObject({ host: 'hv-1', libvirtUri: 'qemu:///system', hollow: 0, pool: 'default', virtType: 'auto', fenceAfterMs: 10_000, renewIntervalMs: 2000, heartbeatIntervalMs: 3000, sampleIntervalMs: 10_000, monitoring: true });
  expect(d.cassandra.keyspace).toBe('stratus');
  const f = loadAgentConfig({ host: 'hv-2', cassandra: 'a:9042,b:9042', keyspace: 'k', labels: 'rack=r1, zone=z', hollow: '10', fenceMs: '6000' }, { STRATUS_AGENT_HOST: 'hv-1', STRATUS_KEYSPACE: 'x' });
  expect(f).toMatchObject({ host: 'hv-2', labels: { rack: 'r1', zone: 'z' }, hollow: 10, fenceAfterMs: 6000, renewIntervalMs: 1200, heartbeatIntervalMs: 2000 });
  expect(f.cassandra).toMatchObject({ contactPoints: ['a:9042', 'b:9042'], keyspace: 'k' });
});

test('the metrics endpoint is off by default, and set by flag or environment', () => {
  expect(loadAgentConfig({ host: 'h' }, {})).toMatchObject({ metricsPort: 0, metricsAddress: '127.0.0.1' });
  expect(loadAgentConfig({ host: 'h' }, { STRATUS_AGENT_METRICS_PORT: '9465', STRATUS_AGENT_METRICS_ADDRESS: '0.0.0.0' })).toMatchObject({ metricsPort: 9465, metricsAddress: '0.0.0.0' });
  expect(loadAgentConfig({ host: 'h', metricsPort: '9500', metricsAddress: '::' }, { STRATUS_AGENT_METRICS_PORT: '9465' })).toMatchObject({ metricsPort: 9500, metricsAddress: '::' });
  expect(() => loadAgentConfig({ host: 'h', metricsPort: '70000' }, {})).toThrow(/at most 65535/);
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_AGENT_METRICS_PORT: 'x' })).toThrow(/STRATUS_AGENT_METRICS_PORT/);
});

test('rejects bad host names, labels, virt types and periods not shorter than T_fence', () => {
  expect(() => loadAgentConfig({ host: 'Bad_Name' }, {})).toThrow(/DNS label/);
  expect(() => parseLabels('novalue')).toThrow(/k=v/);
  expect(() => loadAgentConfig({ host: 'h', virtType: 'xen' }, {})).toThrow(/virt type/);
  expect(() => loadAgentConfig({ host: 'h', fenceMs: 5000, heartbeatMs: 5000 }, {})).toThrow(/shorter than T_fence/);
});

test('cloud-init seeds, SSH forwards and address polling: defaults, environment, flags, bad values named', () => {
  expect(loadAgentConfig({ host: 'h' }, {})).toMatchObject({ seeds: 'auto', forwardPorts: { from: 22000, to: 22999 }, forwardAddress: '127.0.0.1', addressPollMs: 30_000 });
  expect(loadAgentConfig({ host: 'h', seeds: 'on' }, {
    STRATUS_AGENT_SEEDS: 'off', STRATUS_AGENT_FORWARD_PORTS: ' 2200 - 2210 ', STRATUS_AGENT_FORWARD_ADDRESS: '0.0.0.0', STRATUS_AGENT_ADDRESS_POLL_MS: '0',
  })).toMatchObject({ seeds: 'on', forwardPorts: { from: 2200, to: 2210 }, forwardAddress: '0.0.0.0', addressPollMs: 0 });
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_AGENT_SEEDS: 'yes' })).toThrow(/STRATUS_AGENT_SEEDS/);
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_AGENT_FORWARD_PORTS: '3000-2000' })).toThrow(/STRATUS_AGENT_FORWARD_PORTS/);
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_AGENT_FORWARD_PORTS: '22000-70000' })).toThrow(/within 1-65535/);
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_AGENT_FORWARD_ADDRESS: '::1' })).toThrow(/STRATUS_AGENT_FORWARD_ADDRESS must be an IPv4/);
});

test('capacity comes from libvirt; allocatable = (capacity - reserved) x overcommit', () => {
  const node = { model: 'x86_64', memoryKiB: 16 * 1024 * 1024, cpus: 8, mhz: 2400, nodes: 1, sockets: 1, cores: 8, threads: 1 };
  const cap = hostCapacity(node, { usableBytes: 100 * 1024 ** 3 });
  expect(cap).toEqual({ cpu: '8', memory: '16Gi', storage: '100Gi' });
  expect(hostAllocatable(cap, undefined)).toEqual({ cpu: '32', memory: '16Gi', storage: '100Gi' });
  expect(hostAllocatable(cap, { reserved: { cpu: 1, memory: '2Gi' }, overcommit: { cpu: 2, memory: 1.5 } })).toEqual({ cpu: '14', memory: '21Gi', storage: '100Gi' });
  expect(versionString(9000000)).toBe('9.0.0');
});

test('the console server: 127.0.0.1, any free port, by default; HOST:PORT from the flag or the environment; bad values named', () => {
  expect(loadAgentConfig({}, { STRATUS_AGENT_HOST: 'hv-1' })).toMatchObject({ console: { address: '127.0.0.1', port: 0 }, consoleAdvertise: undefined });
  expect(loadAgentConfig({}, { STRATUS_AGENT_HOST: 'hv-1', STRATUS_AGENT_CONSOLE_ADDRESS: '0.0.0.0:7443', STRATUS_AGENT_CONSOLE_ADVERTISE: 'hv-1.lab' }))
    .toMatchObject({ console: { address: '0.0.0.0', port: 7443 }, consoleAdvertise: 'hv-1.lab' });
  expect(loadAgentConfig({ consoleAddress: '[::1]:9000' }, { STRATUS_AGENT_HOST: 'hv-1' }).console).toEqual({ address: '::1', port: 9000 });
  expect(() => loadAgentConfig({}, { STRATUS_AGENT_HOST: 'hv-1', STRATUS_AGENT_CONSOLE_ADDRESS: '7443' })).toThrow('STRATUS_AGENT_CONSOLE_ADDRESS must be HOST:PORT (port 0 = any free port), got "7443"');
  expect(() => loadAgentConfig({}, { STRATUS_AGENT_HOST: 'hv-1', STRATUS_AGENT_CONSOLE_ADDRESS: 'x:70000' })).toThrow(/must be HOST:PORT/);
});
