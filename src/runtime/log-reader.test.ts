import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dockerTimestamp, parseLogLine, readLogs } from './log-reader.js';
import type { LogRecord } from './runtime.js';

const T = (s: number) => `2024-01-01T00:00:${String(s).padStart(2, '0')}.123456789+00:00`;
const line = (s: number, stream: string, tag: string, text: string) => `${T(s)} ${stream} ${tag} ${text}\n`;

async function all(it: AsyncIterable<LogRecord>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(`${r.stream}:${r.data.toString()}`);
  return out;
}

describe('log reader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-logs-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('parses full and partial lines', () => {
    const r = parseLogLine(Buffer.from(`${T(1)} stderr F hello world`))!;
    assert.equal(r.stream, 'stderr');
    assert.equal(r.data.toString(), 'hello world\n');
    assert.equal(r.timeText, T(1));
    assert.equal(r.time.toISOString(), '2024-01-01T00:00:01.123Z');
    assert.equal(dockerTimestamp(r), '2024-01-01T00:00:01.123456789Z');
    assert.equal(parseLogLine(Buffer.from(`${T(1)} stdout P abc`))!.data.toString(), 'abc');
    assert.equal(parseLogLine(Buffer.from(`${T(1)} stdout F `))!.data.toString(), '\n');
    assert.equal(parseLogLine(Buffer.from('garbage')), undefined);
  });

  it('reads, filters by time and tails by lines', async () => {
    const p = join(dir, 'a.log');
    await writeFile(
      p,
      line(1, 'stdout', 'F', 'one') + line(2, 'stderr', 'F', 'two') + line(3, 'stdout', 'P', 'thr') + line(3, 'stdout', 'F', 'ee') + line(4, 'stdout', 'F', 'four'),
    );
    assert.deepEqual(await all(readLogs(p)), ['stdout:one\n', 'stderr:two\n', 'stdout:thr', 'stdout:ee\n', 'stdout:four\n']);
    assert.deepEqual(await all(readLogs(p, { tail: 2 })), ['stdout:thr', 'stdout:ee\n', 'stdout:four\n']);
    assert.deepEqual(await all(readLogs(p, { tail: 0 })), []);
    assert.deepEqual(await all(readLogs(p, { since: new Date('2024-01-01T00:00:02Z'), until: new Date('2024-01-01T00:00:03.5Z') })), [
      'stderr:two\n',
      'stdout:thr',
      'stdout:ee\n',
    ]);
    assert.deepEqual(await all(readLogs(join(dir, 'missing.log'))), []);
  });

  it('follows until the container exits, draining what was written before, across a rotation', async () => {
    const p = join(dir, 'b.log');
    await writeFile(p, line(1, 'stdout', 'F', 'first'));
    let exited!: () => void;
    const untilExit = new Promise<void>((r) => (exited = r));
    const got: string[] = [];
    const done = (async () => {
      for await (const r of readLogs(p, { follow: { untilExit }, pollMs: 50 })) got.push(r.data.toString());
    })();
    await new Promise((r) => setTimeout(r, 30));
    await appendFile(p, line(2, 'stdout', 'F', 'second'));
    await new Promise((r) => setTimeout(r, 30));
    // conmon's rotation: write <path>.tmp, rename over <path>
    await appendFile(p, line(3, 'stdout', 'F', 'third-before-rotation'));
    await writeFile(`${p}.tmp`, line(4, 'stdout', 'F', 'after-rotation'));
    await rename(`${p}.tmp`, p);
    await appendFile(p, line(5, 'stdout', 'F', 'last'));
    exited();
    await done;
    assert.deepEqual(got, ['first\n', 'second\n', 'third-before-rotation\n', 'after-rotation\n', 'last\n']);
  });

  it('follow ends on abort', async () => {
    const p = join(dir, 'c.log');
    await writeFile(p, line(1, 'stdout', 'F', 'x'));
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const r of readLogs(p, { follow: true, signal: ac.signal })) got.push(r.data.toString());
    })();
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await done;
    assert.deepEqual(got, ['x\n']);
  });
});
