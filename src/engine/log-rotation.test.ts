import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, readdir, rename, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepRotated, readRotatedLogs, rotatedFiles } from './log-rotation.js';
import { readLogs } from '../runtime/log-reader.js';
import type { LogReader } from './collaborators.js';

const read: LogReader = (path, o) => readLogs(path, { ...o, follow: false });
const line = (n: number) => `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}.000000000+00:00 stdout F line${n}\n`;

/** What conmon does when a file is full: a new file renamed over the path. */
async function conmonReplaces(path: string, content: string): Promise<void> {
  await writeFile(`${path}.tmp`, content);
  await rename(`${path}.tmp`, path);
}

test('the live link keeps each replaced file, shifted up to max-file - 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-rot-'));
  try {
    const log = join(dir, 'container.log');
    await writeFile(log, line(1));
    await keepRotated(log, 3);
    await appendFile(log, line(2));
    for (const n of [3, 5, 7]) {
      await conmonReplaces(log, line(n));
      await keepRotated(log, 3);
      await appendFile(log, line(n + 1));
    }
    assert.deepEqual((await readdir(dir)).sort(), ['container.log', 'container.log.1', 'container.log.2', 'container.log.live']);
    assert.equal(await readFile(`${log}.2`, 'utf8'), line(3) + line(4));
    assert.equal(await readFile(`${log}.1`, 'utf8'), line(5) + line(6));
    assert.deepEqual(await rotatedFiles(log, 3), [`${log}.2`, `${log}.1`]);

    const all: string[] = [];
    for await (const r of readRotatedLogs(read, log, 3, {})) all.push(r.data.toString().trim());
    assert.deepEqual(all, ['line3', 'line4', 'line5', 'line6', 'line7', 'line8']);
    const tail: string[] = [];
    for await (const r of readRotatedLogs(read, log, 3, { tail: 3 })) tail.push(r.data.toString().trim());
    assert.deepEqual(tail, ['line6', 'line7', 'line8']);
    const tail1: string[] = [];
    for await (const r of readRotatedLogs(read, log, 3, { tail: 1 })) tail1.push(r.data.toString().trim());
    assert.deepEqual(tail1, ['line8']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
