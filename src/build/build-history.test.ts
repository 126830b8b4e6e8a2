import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildHistory } from './build-history.js';

describe('BuildHistory', () => {
  it('records steps from the builder output, with times and cache hits, and persists them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-test-build-history-'));
    try {
      let now = 1_000_000;
      const file = join(dir, 'history.json');
      const h = new BuildHistory(file, { now: () => now });
      const r = h.start({ tags: ['demo:1'], dockerfile: 'Dockerfile' });
      r.output('Step 1/3 : FROM busybox\n');
      r.output(' ---> 1234567890ab\n');
      now += 10;
      r.output('Step 2/3 : RUN echo one\n');
      r.output(' ---> Using cache\n');
      now += 5;
      r.output('Step 3/3 : RUN echo two\n');
      r.output('Step 9/9 : looks like a step but is RUN output\n');
      r.output('Step 1/3 : an earlier step number: RUN output too\n');
      now += 200;
      assert.equal(h.get(r.id)?.Result, 'running');
      await r.ok('sha256:abc');
      const rec = h.get(r.id)!;
      assert.equal(rec.Result, 'ok');
      assert.equal(rec.DurationMs, 215);
      assert.equal(rec.TotalSteps, 3);
      assert.deepEqual(rec.Steps.map((s) => [s.Number, s.Instruction, s.DurationMs, s.Cached]), [
        [1, 'FROM busybox', 10, false],
        [2, 'RUN echo one', 5, true],
        [3, 'RUN echo two', 200, false],
      ]);
      const heredoc = h.start({ tags: [], dockerfile: 'Dockerfile' });
      heredoc.output('Step 1/2 : FROM busybox\n');
      heredoc.output(`Step 2/2 : RUN <<EOF\necho hi\n${'x'.repeat(3000)}\nEOF\n`);
      await heredoc.ok('sha256:def');
      const hs = h.get(heredoc.id)!.Steps;
      assert.equal(hs.length, 2);
      assert.match(hs[1]!.Instruction, /^RUN <<EOF\necho hi\nx+…$/);
      assert.equal(hs[1]!.Instruction.length, 2001);
      const again = new BuildHistory(file);
      await again.load();
      assert.deepEqual(again.get(r.id), rec);
      assert.equal(JSON.parse(await readFile(file, 'utf8')).length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps only the newest builds, newest first; records errors; a corrupt file starts empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-test-build-history-'));
    try {
      const file = join(dir, 'history.json');
      const h = new BuildHistory(file, { limit: 3 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = h.start({ tags: [`t:${i}`], dockerfile: 'Dockerfile' });
        ids.push(r.id);
        await (i === 4 ? r.failed('step 2 failed') : r.ok(`sha256:${i}`));
      }
      assert.deepEqual(h.list().map((b) => b.ID), ids.slice(2).reverse());
      assert.equal(h.get(ids[0]!), undefined);
      assert.equal(h.get(ids[4]!)?.Error, 'step 2 failed');
      const reloaded = new BuildHistory(file, { limit: 3 });
      await reloaded.load();
      assert.equal(reloaded.list().length, 3);
      await writeFile(file, '{not json');
      const broken = new BuildHistory(file);
      await broken.load();
      assert.deepEqual(broken.list(), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('marks a build that was running when the daemon stopped as failed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-test-build-history-'));
    try {
      const file = join(dir, 'history.json');
      const h = new BuildHistory(file);
      await h.start({ tags: [], dockerfile: 'Dockerfile' }).ok('sha256:x');
      const running = h.start({ tags: [], dockerfile: 'Dockerfile' });
      // Saved with the second build still running (as a daemon killed mid-build leaves it).
      await h.start({ tags: [], dockerfile: 'Dockerfile' }).ok('sha256:y');
      const heredoc = h.start({ tags: [], dockerfile: 'Dockerfile' });
      heredoc.output('Step 1/2 : FROM busybox\n');
      heredoc.output(`Step 2/2 : RUN <<EOF\necho hi\n${'x'.repeat(3000)}\nEOF\n`);
      await heredoc.ok('sha256:def');
      const hs = h.get(heredoc.id)!.Steps;
      assert.equal(hs.length, 2);
      assert.match(hs[1]!.Instruction, /^RUN <<EOF\necho hi\nx+…$/);
      assert.equal(hs[1]!.Instruction.length, 2001);
      const again = new BuildHistory(file);
      await again.load();
      assert.equal(again.get(running.id)?.Result, 'error');
      assert.match(again.get(running.id)?.Error ?? '', /daemon stopped/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
