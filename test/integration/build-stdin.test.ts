/**
 * `build -` (issue 5): stdin is either a context archive or a Dockerfile alone, as with docker
 * (`docker build - < Dockerfile`). Checked through berth and through the docker CLI's legacy
 * builder against the same berthd.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, requireRoot, type TestDaemon } from '../helpers/daemon.js';

describe('build - (stdin)', () => {
  let d: TestDaemon;
  before(async () => {
    requireRoot();
    d = await startDaemon('build-stdin');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  test('a Dockerfile on stdin builds with an empty context, through berth and docker', async () => {
    const dockerfile = 'FROM busybox\nRUN echo from-stdin > /x\nCMD ["cat", "/x"]\n';
    const b = await d.berth(['build', '-t', 'stdin-test:berth', '-'], { input: dockerfile });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /Step 2\/3 : RUN echo from-stdin > \/x/);
    assert.match(b.stdout, /Successfully tagged stdin-test:berth/);
    const out = await d.berth(['run', '--rm', 'stdin-test:berth']);
    assert.equal(out.stdout, 'from-stdin\n');
    const k = await d.docker(['build', '-t', 'stdin-test:docker', '-'], { input: dockerfile });
    assert.equal(k.code, 0, k.stderr);
    // Same Dockerfile, same (empty) context: docker's build reuses berth's steps.
    assert.equal(k.stdout.match(/Using cache/g)?.length, 2, k.stdout);
    // COPY has nothing to copy from an empty context.
    const bad = await d.berth(['build', '-'], { input: 'FROM busybox\nCOPY x /x\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /COPY failed: file not found in build context/);
    await d.berth(['rmi', 'stdin-test:berth', 'stdin-test:docker']);
  });

  test('a tar on stdin is the context', async () => {
    const tar = await import('tar-stream');
    const pack = tar.default.pack();
    pack.entry({ name: 'Dockerfile' }, 'FROM busybox\nCOPY hello /hello\n');
    pack.entry({ name: 'hello' }, 'hello from the tar\n');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const b = await d.berth(['build', '-q', '-t', 'stdin-test:tar', '-'], { input: Buffer.concat(chunks) });
    assert.equal(b.code, 0, b.stderr);
    const out = await d.berth(['run', '--rm', 'stdin-test:tar', 'cat', '/hello']);
    assert.equal(out.stdout, 'hello from the tar\n');
    await d.berth(['rmi', 'stdin-test:tar']);
  });
});
