// kube/capacity.ts: allocatable = max(0, capacity - reserved) x overcommit, rounded down; the rule
// the agent publishes (agents/host/capacity.ts) and placement applies (controllers/placement/resources.ts).
import { allocatableOf, DEFAULT_OVERCOMMIT } from '../../kube/capacity';
import { hostAllocatable as published } from '../../agents/host/capacity';
import { hostAllocatable as placementAllocatable } from '../../controllers/placement/resources';

const Gi = 1024 ** 3;

test('defaults: 4 vCPUs per CPU, memory and storage as they are', () => {
  expect(DEFAULT_OVERCOMMIT).toEqual({ cpu: 4, memory: 1, storage: 1 });
  expect(allocatableOf({ cpu: 8, memory: '16Gi', storage: '100Gi' }, undefined)).toEqual({ cpu: 32, memory: 16 * Gi, storage: 100 * Gi });
});

test('reserved is taken off before the overcommit ratio applies, never below zero', () => {
  expect(allocatableOf({ cpu: 10, memory: '36Gi' }, { reserved: { cpu: 2, memory: '4Gi' }, overcommit: { cpu: 1, memory: 1.5 } })).toEqual({ cpu: 8, memory: 48 * Gi });
  expect(allocatableOf({ cpu: 2, memory: '1Gi' }, { reserved: { cpu: 4, memory: '2Gi' } })).toEqual({ cpu: 0, memory: 0 });
});

test('storage is there only when the capacity has it', () => {
  expect(allocatableOf({ cpu: 1, memory: '1Gi' }, undefined)).not.toHaveProperty('storage');
  expect(allocatableOf({ cpu: 1, memory: '1Gi', storage: '10Gi' }, { reserved: { storage: '4Gi' } }).storage).toBe(6 * Gi);
});

test('rounds down: cpu to whole millicores, memory and storage to whole bytes', () => {
  expect(allocatableOf({ cpu: 1, memory: 1001 }, { overcommit: { cpu: 1.0005, memory: 0.5 } })).toEqual({ cpu: 1, memory: 500 });
  expect(allocatableOf({ cpu: 3, memory: 3, storage: 7 }, { overcommit: { cpu: 0.3335, memory: 0.5, storage: 0.5 } })).toEqual({ cpu: 1, memory: 1, storage: 3 });
});

test('float noise does not cost a millicore or a byte: 0.7 x 3 is 2100m', () => {
  expect(allocatableOf({ cpu: '700m', memory: '7G' }, { overcommit: { cpu: 3, memory: 0.3 } })).toEqual({ cpu: 2.1, memory: 2.1e9 });
  expect(allocatableOf({ cpu: 1, memory: '1Ti' }, { overcommit: { memory: 0.3 } }).memory).toBe(Math.floor(1024 ** 4 * 0.3));
});

test('the agent publishes the same numbers placement computes', () => {
  const capacity = { cpu: '7', memory: '10Gi', storage: '300Gi' };
  const spec = { reserved: { cpu: '500m', memory: '1536Mi', storage: '20Gi' }, overcommit: { cpu: 1.3, memory: 1.1 } };
  const status = published(capacity, spec);
  expect(status).toEqual({ cpu: '8450m', memory: '10039486054', storage: '280Gi' });
  const fromStatus = placementAllocatable({ metadata: { generation: 2 }, spec, status: { capacity, allocatable: status, observedGeneration: 2 } });
  const computed = placementAllocatable({ spec, status: { capacity } });
  expect(fromStatus).toEqual(computed);
  expect(computed).toEqual({ cpu: 8.45, memory: 10039486054, storage: 280 * Gi });
});

test('placement uses the allocatable a host publishes for its current spec, else computes it', () => {
  const capacity = { cpu: 8, memory: '16Gi' };
  const allocatable = { cpu: '20', memory: '8Gi' }; // e.g. computed by the agent with another rule
  expect(placementAllocatable({ metadata: { generation: 3 }, spec: {}, status: { capacity, allocatable, observedGeneration: 3 } })).toEqual({ cpu: 20, memory: 8 * Gi, storage: Infinity });
  // the spec changed since the agent wrote it (reserved or overcommit may differ): recompute
  expect(placementAllocatable({ metadata: { generation: 4 }, spec: {}, status: { capacity, allocatable, observedGeneration: 3 } })).toEqual({ cpu: 32, memory: 16 * Gi, storage: Infinity });
  expect(placementAllocatable({ spec: {}, status: { allocatable } })).toBeUndefined();
});
