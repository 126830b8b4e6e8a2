import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { isInvalidParameter } from '../common/errors.js';
import type { StdioConnection } from '../runtime/stdio.js';
import { DetachScanner, parseDetachKeys, wireAttach } from './attach.js';

/** A connection that records what reaches the process and lets the test play its output. */
class Conn implements StdioConnection {
  written: Buffer[] = [];
  stdinClosed = false;
  closed = false;
  #out?: (s: 'stdout' | 'stderr', d: Buffer) => void;
  #end: Array<() => void> = [];
  get ended(): boolean {
    return this.closed;
  }
  write(d: Buffer): void {
    this.written.push(d);
  }
  closeStdin(): void {
    this.stdinClosed = true;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.#end.splice(0)) f();
  }
  onOutput(fn: (s: 'stdout' | 'stderr', d: Buffer) => void): void {
    this.#out = fn;
  }
  onEnd(fn: () => void): void {
    this.#end.push(fn);
  }
  emit(s: 'stdout' | 'stderr', d: string): void {
    this.#out?.(s, Buffer.from(d));
  }
}

describe('detach keys', () => {
  it('parses Docker\'s syntax', () => {
    assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
    assert.deepEqual(parseDetachKeys('ctrl-x,x'), [24, 120]);
    assert.deepEqual(parseDetachKeys('ctrl-@,ctrl-[,ctrl-_'), [0, 27, 31]);
    for (const bad of ['', 'ctrl-', 'ctrl-1', 'alt-x', 'xy']) {
      assert.throws(() => parseDetachKeys(bad), (e) => isInvalidParameter(e) && /Invalid detach keys/.test((e as Error).message), bad);
    }
  });

  it('holds back a partial sequence and releases it when it does not complete', () => {
    const s = new DetachScanner([16, 17]);
    assert.deepEqual(s.push(Buffer.from([97, 16])), { forward: Buffer.from([97]), detached: false });
    assert.deepEqual(s.push(Buffer.from([98])), { forward: Buffer.from([16, 98]), detached: false });
    assert.deepEqual(s.push(Buffer.from([99, 16, 16])), { forward: Buffer.from([99, 16]), detached: false });
    assert.deepEqual(s.push(Buffer.from([17, 100])), { forward: Buffer.alloc(0), detached: true });
  });
});

describe('wireAttach', () => {
  const wire = (conn: Conn, input: PassThrough, o: { tty: boolean; closeStdinOnEof: boolean; stderr?: boolean }) => {
    const out: string[] = [];
    const done = wireAttach({ conn, input, stdin: true, tty: o.tty, closeStdinOnEof: o.closeStdinOnEof, detachKeys: [16, 17], stdout: true, stderr: o.stderr ?? true, output: (s, d) => out.push(`${s}:${d}`) });
    return { out, done };
  };

  it('copies stdin in and output out until the process exits', async () => {
    const conn = new Conn();
    const input = new PassThrough({ autoDestroy: false }); // a half-open socket: 'end' without 'close'
    const { out, done } = wire(conn, input, { tty: false, closeStdinOnEof: true, stderr: false });
    input.write('hi\n');
    await new Promise((r) => setImmediate(r));
    conn.emit('stdout', 'hi\n');
    conn.emit('stderr', 'hidden');
    conn.close();
    assert.equal(await done, 'exited');
    assert.equal(Buffer.concat(conn.written).toString(), 'hi\n');
    assert.deepEqual(out, ['stdout:hi\n']);
  });

  it('StdinOnce without a TTY: the client\'s EOF closes stdin and output goes on', async () => {
    const conn = new Conn();
    const input = new PassThrough({ autoDestroy: false }); // a half-open socket: 'end' without 'close'
    const { out, done } = wire(conn, input, { tty: false, closeStdinOnEof: true });
    input.end();
    await new Promise((r) => setImmediate(r));
    assert.equal(conn.stdinClosed, true);
    assert.equal(conn.closed, false);
    conn.emit('stdout', 'late');
    conn.close();
    assert.equal(await done, 'exited');
    assert.deepEqual(out, ['stdout:late']);
  });

  it('with a TTY the client\'s EOF ends the session but not the process\'s stdin', async () => {
    const conn = new Conn();
    const input = new PassThrough({ autoDestroy: false }); // a half-open socket: 'end' without 'close'
    const { done } = wire(conn, input, { tty: true, closeStdinOnEof: true });
    input.end();
    assert.equal(await done, 'closed');
    assert.equal(conn.stdinClosed, false);
  });

  it('the detach keys end the session; bytes before them still arrive', async () => {
    const conn = new Conn();
    const input = new PassThrough({ autoDestroy: false }); // a half-open socket: 'end' without 'close'
    const { done } = wire(conn, input, { tty: true, closeStdinOnEof: false });
    input.write(Buffer.from([108, 115, 16, 17, 120]));
    assert.equal(await done, 'detached');
    assert.equal(Buffer.concat(conn.written).toString(), 'ls');
    assert.equal(conn.stdinClosed, false);
  });
});
