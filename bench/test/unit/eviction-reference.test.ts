import { describeRedisBenchmark } from '../../src/report/sections/eviction-throughput';
import { REDIS_BENCHMARK_KEYSPACE } from '../../src/scenarios/eviction-throughput';

describe('the redis-benchmark reference, in words', () => {
  it('says a run without -r wrote one key, with its defaults', () => {
    expect(describeRedisBenchmark('redis-benchmark -h 127.0.0.1 -p 26379 --dbnum 7 -t set -P 16 -n 200000 -q')).toBe(
      'SET commands (200k of them), from 50 connections (its default), pipelined 16 at a time, 3-byte values (its default), every one to the same key (`key:__rand_int__`: no -r)',
    );
  });

  it('says what -r, -c and -d changed', () => {
    expect(describeRedisBenchmark('redis-benchmark -t set -P 16 -r 100000 -c 8 -d 64 -n 200000 -q')).toBe('SET commands (200k of them), from 8 connections, pipelined 16 at a time, 64-byte values, random keys over 100k (-r 100000)');
  });

  it('is run over random keys now', () => {
    expect(REDIS_BENCHMARK_KEYSPACE).toBe(100_000);
  });
});
