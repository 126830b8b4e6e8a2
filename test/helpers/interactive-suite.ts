/**
 * The interactive scenarios of issue 3, run through a pseudo-terminal against a private
 * berthd, once with `berth` (test/integration/interactive.test.ts) and once with the real
 * docker CLI (test/compat/docker-interactive.test.ts).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDaemon, BERTH_BIN, type TestDaemon, type RunResult } from './daemon.js';
import { spawnPty, type PtySession } from './pty.js';

/** busybox ash asks the terminal for the cursor position (ESC[6n) and redraws; the prompt is `/ # `. */
const PROMPT = /\/ # /;

export function interactiveSuite(cli: 'berth' | 'docker'): void {
  describe(`interactive containers and exec through ${cli}`, () => {
    let d: TestDaemon;
    const sessions: PtySession[] = [];
    const prefix = `ia-${cli}`;

    const run = (args: string[], options: { input?: string } = {}): Promise<RunResult> => (cli === 'berth' ? d.berth(args, options) : d.docker(args, options));
    const term = (args: string[], size = { cols: 91, rows: 33 }): PtySession => {
      const env: NodeJS.ProcessEnv =
        cli === 'berth'
          ? { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', BERTH_HOST: d.host }
          : { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config'), DOCKER_CLI_HINTS: 'false' };
      const s = spawnPty(cli === 'berth' ? BERTH_BIN : 'docker', args, { env, ...size });
      sessions.push(s);
      return s;
    };
    const inspect = async (name: string) => {
      const r = await d.api('GET', `/containers/${name}/json`);
      assert.equal(r.status, 200, r.body.toString());
      return r.json<{ Id: string; State: { Status: string; Running: boolean; ExitCode: number } }>();
    };

    before(async () => {
      d = await startDaemon(prefix);
      await d.importBusybox();
    });
    after(async () => {
      for (const s of sessions) s.kill();
      await d?.destroy();
    });

    test('run -it: the tty has our size before the process starts (ConsoleSize at create, no race with resize)', async () => {
      for (let i = 0; i < 3; i++) {
        const s = term(['run', '-it', '--rm', 'busybox', 'stty', 'size'], { cols: 77, rows: 21 });
        await s.waitFor(/21 77\r\n/);
        assert.equal(await s.exit(), 0);
      }
    });

    test('run -it: a shell on a TTY of our size; exit stops the container without removing it; start -ai brings it back', async () => {
      const s = term(['run', '-it', '--name', `${prefix}-sh`, 'busybox', 'sh']);
      await s.waitFor(PROMPT);
      s.mark();
      s.type('echo $((6*7))\r');
      await s.waitFor(/\r\n42\r\n/);
      s.mark();
      s.type('stty size; tty\r');
      await s.waitFor(/33 91\r\n\/dev\/pts\/0\r\n/);
      s.resize(120, 40);
      await new Promise((r) => setTimeout(r, 300));
      s.mark();
      s.type('stty size\r');
      await s.waitFor(/40 120\r\n/);
      s.mark();
      // Ctrl-C reaches the shell's foreground job, not the CLI.
      s.type('sleep 30\r');
      await new Promise((r) => setTimeout(r, 300));
      s.type('\x03');
      await s.waitFor(PROMPT, 5000);
      s.mark();
      s.type('echo alive-$((3*3))\r');
      await s.waitFor(/alive-9\r\n/);
      s.type('exit\r');
      assert.equal(await s.exit(), 0);
      const st = await inspect(`${prefix}-sh`);
      assert.equal(st.State.Status, 'exited');

      const again = term(['start', '-ai', `${prefix}-sh`]);
      await again.waitFor(PROMPT);
      again.mark();
      again.type('echo again-$((2+3))\r');
      await again.waitFor(/again-5\r\n/);
      again.type('exit 5\r');
      assert.equal(await again.exit(), 5);
      assert.equal((await inspect(`${prefix}-sh`)).State.ExitCode, 5);
    });

    test('Ctrl-P Ctrl-Q detaches and leaves the container running; attach brings the shell back', async () => {
      const name = `${prefix}-detach`;
      const s = term(['run', '-it', '--name', name, 'busybox', 'sh']);
      await s.waitFor(PROMPT);
      s.type('echo marker-$((40+2))\r');
      await s.waitFor(/marker-42/);
      s.type('\x10\x11');
      assert.equal(await s.exit(), 0);
      assert.equal((await inspect(name)).State.Running, true);

      const a = term(['attach', '--detach-keys', 'ctrl-x,x', name]);
      await new Promise((r) => setTimeout(r, 500));
      a.type('echo back-$((1+1))\r');
      await a.waitFor(/back-2\r\n/);
      a.type('\x18x');
      const code = await a.exit();
      assert.notEqual(code, 0, 'attach reports the detach as docker does');
      assert.match(a.output, /read escape sequence/);
      assert.equal((await inspect(name)).State.Running, true);

      const e = term(['exec', '-it', name, 'sh']);
      await e.waitFor(PROMPT);
      e.mark();
      e.type('stty size; tty\r');
      await e.waitFor(/33 91\r\n\/dev\/pts\/\d+\r\n/);
      e.resize(100, 50);
      await new Promise((r) => setTimeout(r, 300));
      e.mark();
      e.type('stty size\r');
      await e.waitFor(/50 100\r\n/);
      e.type('exit 4\r');
      assert.equal(await e.exit(), 4);
      assert.equal((await inspect(name)).State.Running, true, 'the exec ending leaves the container running');
    });

    test('run -i without a TTY: stdin piped in, EOF closes it, stdout and stderr stay apart', async () => {
      const r = await run(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'hi\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'hi\n');
      const r2 = await run(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'read x; echo "out:$x"; echo "err:$x" >&2; exit 3'], { input: 'abc\n' });
      assert.equal(r2.code, 3);
      assert.equal(r2.stdout, 'out:abc\n');
      assert.equal(r2.stderr, 'err:abc\n');
    });

    test('exec: exit codes, stdin, -e -w -u --privileged, -d, and exit codes in GET /exec/{id}/json', async () => {
      const name = `${prefix}-exec`;
      assert.equal((await run(['run', '-d', '--name', name, 'busybox', 'sleep', '300'])).code, 0);
      const r = await run(['exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.equal(r.code, 3);
      assert.equal(r.stdout, 'out\n');
      assert.equal(r.stderr, 'err\n');
      const i = await run(['exec', '-i', name, 'sh', '-c', 'cat; echo done'], { input: 'piped\n' });
      assert.equal(i.code, 0, i.stderr);
      assert.equal(i.stdout, 'piped\ndone\n');
      const o = await run(['exec', '-u', 'nobody', '-w', '/tmp', '-e', 'FOO=bar', name, 'sh', '-c', 'id -u; pwd; echo $FOO']);
      assert.equal(o.code, 0, o.stderr);
      assert.equal(o.stdout, '65534\n/tmp\nbar\n');
      const capEff = async (extra: string[]) => (await run(['exec', ...extra, name, 'sh', '-c', 'grep CapEff /proc/self/status'])).stdout.trim();
      const plain = await capEff([]);
      const priv = await capEff(['--privileged']);
      assert.match(plain, /^CapEff:\s+[0-9a-f]+$/);
      assert.ok(BigInt(`0x${priv.split(/\s+/)[1]}`) > BigInt(`0x${plain.split(/\s+/)[1]}`), `${priv} has more than ${plain}`);
      const nf = await run(['exec', name, 'no-such-command']);
      assert.equal(nf.code, 127);
      assert.match(nf.stdout + nf.stderr, /executable file not found/);
      assert.equal((await run(['exec', '-d', name, 'sh', '-c', 'echo detached > /tmp/d'])).code, 0);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await run(['exec', name, 'cat', '/tmp/d'])).stdout, 'detached\n');

      // The API: create, start detached, then inspect until it has exited.
      const c = await d.api('POST', `/containers/${name}/exec`, { Cmd: ['sh', '-c', 'sleep 0.3; exit 7'], AttachStdout: false });
      assert.equal(c.status, 201, c.body.toString());
      const execId = c.json<{ Id: string }>().Id;
      assert.equal((await d.api('POST', `/exec/${execId}/start`, { Detach: true })).status, 200);
      let info = (await d.api('GET', `/exec/${execId}/json`)).json();
      assert.equal(info.Running, true);
      assert.ok(info.Pid > 0);
      assert.deepEqual(info.ProcessConfig, { tty: false, entrypoint: 'sh', arguments: ['-c', 'sleep 0.3; exit 7'], privileged: false, user: '' });
      for (let n = 0; n < 100 && info.Running; n++) {
        await new Promise((r) => setTimeout(r, 50));
        info = (await d.api('GET', `/exec/${execId}/json`)).json();
      }
      assert.equal(info.Running, false);
      assert.equal(info.ExitCode, 7);
      const again = await d.api('POST', `/exec/${execId}/start`, { Detach: true });
      assert.equal(again.status, 409);
      assert.equal((await d.api('GET', '/exec/0123456789abcdef/json')).status, 404);
    });

    test('exec into a paused or stopped container is refused with Docker\'s messages', async () => {
      const name = `${prefix}-refuse`;
      assert.equal((await run(['run', '-d', '--name', name, 'busybox', 'sleep', '300'])).code, 0);
      const id = (await inspect(name)).Id;
      assert.equal((await d.api('POST', `/containers/${name}/pause`)).status, 204);
      const p = await run(['exec', name, 'true']);
      assert.notEqual(p.code, 0);
      assert.match(p.stderr, new RegExp(`Container ${id} is paused, unpause the container before exec`));
      assert.equal((await d.api('POST', `/containers/${name}/unpause`)).status, 204);
      assert.equal((await run(['kill', name])).code, 0);
      await d.api('POST', `/containers/${name}/wait`);
      const s = await run(['exec', name, 'true']);
      assert.notEqual(s.code, 0);
      assert.match(s.stderr, new RegExp(`Container ${id} is not running`));
      const rz = await d.api('POST', `/containers/${name}/resize?h=10&w=10`);
      assert.equal(rz.status, 409);
    });
  });
}
