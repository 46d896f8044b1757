import { EvictionBatcher } from '../../src/eviction/eviction-batcher';

describe('EvictionBatcher', () => {
  it('keeps only the highest floor per key, whatever the arrival order', () => {
    const b = new EvictionBatcher();
    b.add({ markers: [{ key: 'k1', floor: 5n }, { key: 'k2', floor: 1n }], generationBumps: [] });
    b.add({ markers: [{ key: 'k1', floor: 9n }], generationBumps: [] });
    b.add({ markers: [{ key: 'k1', floor: 7n }], generationBumps: [] });
    expect(b.markers()).toEqual([{ key: 'k1', floor: 9n }, { key: 'k2', floor: 1n }]);
    expect(b.plannedKeys).toBe(4);
  });

  it('bumps each key space once however many truncates the batch holds', () => {
    const b = new EvictionBatcher();
    b.add({ markers: [], generationBumps: ['account-settings'] });
    b.add({ markers: [], generationBumps: ['account-settings', 'doctor-settings'] });
    expect(b.generationBumps()).toEqual(['account-settings', 'doctor-settings']);
  });
});
