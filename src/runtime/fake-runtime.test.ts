import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeRuntime, interpretCommand } from './fake-runtime.js';
import { runtimeContract } from './runtime-contract.js';

let n = 0;
runtimeContract('fake', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-fake-'));
  return {
    runtime: new FakeRuntime(),
    newId: () => `fake-${process.pid}-${++n}`,
    async bundle(id, args) {
      const b = join(dir, id);
      await mkdir(b, { recursive: true });
      await writeFile(join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { args, cwd: '/', user: { uid: 0, gid: 0 } } }));
      return { id, bundleDir: b, logPath: join(b, 'ctr.log'), terminal: false, stdin: false };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FakeRuntime specifics', () => {
  it('interprets sh -c scripts', () => {
    assert.deepEqual(interpretCommand(['sh', '-c', 'echo hi; exit 4']), {
      exitCode: 4,
      output: [{ stream: 'stdout', data: 'hi\n' }],
    });
  });
  it('scripted behaviour and manual exits', async () => {
    const rt = new FakeRuntime();
    rt.script('a', { ignoreSignals: [] });
    const exits: [string, number][] = [];
    const stop = rt.watchExits((id, e) => exits.push([id, e.exitCode]));
    await rt.create({ id: 'a', bundleDir: '/nonexistent', logPath: '/nonexistent/log', terminal: false, stdin: false });
    await rt.start('a');
    rt.exit('a', 42);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(exits, [['a', 42]]);
    assert.deepEqual(rt.calls, ['create a', 'start a']);
    stop();
  });
  it('kill with a handled signal gives 128+n', async () => {
    const rt = new FakeRuntime();
    rt.script('b', {});
    await rt.create({ id: 'b', bundleDir: '/x', logPath: '/x/log', terminal: false, stdin: false });
    await rt.start('b');
    await rt.kill('b', 'TERM');
    assert.equal((await rt.readExit('b'))?.exitCode, 143);
  });
});
