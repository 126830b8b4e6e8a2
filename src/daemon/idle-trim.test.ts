import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { IdleTrim } from './idle-trim.js';

describe('IdleTrim (issue 17: memory back after a burst)', () => {
  it('collects once after the daemon has been idle for idleMs, not while work goes on', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let collected = 0;
      const t = new IdleTrim({ idleMs: 5000, collect: () => collected++ });
      t.touch();
      mock.timers.tick(3000);
      t.touch(); // more work: the wait starts again
      mock.timers.tick(3000);
      assert.equal(collected, 0);
      mock.timers.tick(2000);
      assert.equal(collected, 1);
      mock.timers.tick(1000);
      mock.timers.tick(1000);
      assert.equal(collected, 3, 'three rounds, a second apart');
      mock.timers.tick(60_000); // nothing happened since: no more GC
      assert.equal(collected, 3);
      t.touch();
      mock.timers.tick(5000);
      assert.equal(collected, 4);
      t.touch(); // work again: the remaining rounds are called off
      mock.timers.tick(1000);
      assert.equal(collected, 4);
      t.close();
      mock.timers.tick(10_000);
      assert.equal(collected, 4);
    } finally {
      mock.timers.reset();
    }
  });

  it('runs onIdle once per idle period, before the first GC; a throwing onIdle does not stop the GC', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const calls: string[] = [];
      const t = new IdleTrim({ idleMs: 100, collect: () => calls.push('gc'), onIdle: () => { calls.push('idle'); throw new Error('database is locked'); } });
      t.touch();
      mock.timers.tick(100);
      mock.timers.tick(1000);
      mock.timers.tick(1000);
      assert.deepEqual(calls, ['idle', 'gc', 'gc', 'gc']);
      t.touch();
      mock.timers.tick(100);
      assert.deepEqual(calls.slice(4), ['idle', 'gc']);
      t.close();
    } finally {
      mock.timers.reset();
    }
  });

  it('runs V8 full GC by default, without --expose-gc', async () => {
    assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'the test runner must not have exposed gc itself');
    const t = new IdleTrim({ idleMs: 5 });
    t.touch();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(t.runs, 1);
    t.close();
  });
});
