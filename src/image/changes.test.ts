import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges, InvalidChangeError } from './changes.js';

test('applies Docker --change instructions in JSON and shell forms', () => {
  const c = applyChanges({}, [
    'ENV PATH=/usr/bin:/bin GREETING="hello world"',
    'ENV LEGACY value with spaces',
    'CMD echo $GREETING',
    'ENTRYPOINT ["/bin/tini", "--"]',
    'EXPOSE 80 53/udp 8000-8001',
    'LABEL a=b "c d"="e f"',
    'USER nobody:nogroup',
    'WORKDIR /app',
    'WORKDIR sub/../src',
    'VOLUME /data /srv',
    'VOLUME ["/cache", "/logs"]',
    'STOPSIGNAL SIGTERM',
    'ONBUILD RUN make',
    'HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://localhost/',
  ]);
  assert.deepEqual(c.Env, ['PATH=/usr/bin:/bin', 'GREETING=hello world', 'LEGACY=value with spaces']);
  assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo $GREETING']);
  assert.deepEqual(c.Entrypoint, ['/bin/tini', '--']);
  assert.deepEqual(Object.keys(c.ExposedPorts!), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
  assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e f' });
  assert.equal(c.User, 'nobody:nogroup');
  assert.equal(c.WorkingDir, '/app/src');
  assert.deepEqual(Object.keys(c.Volumes!), ['/data', '/srv', '/cache', '/logs']);
  assert.equal(c.StopSignal, 'SIGTERM');
  assert.deepEqual(c.OnBuild, ['RUN make']);
  assert.deepEqual(c.Healthcheck, { Interval: 30e9, Retries: 3, Test: ['CMD-SHELL', 'curl -f http://localhost/'] });
});

test('expands variables from earlier ENV lines', () => {
  const c = applyChanges({ Env: ['BASE=/opt'] }, ['ENV APP=$BASE/app DIR=${BASE}/x D=${NOPE:-dflt} S=\'$BASE\'', 'WORKDIR $APP']);
  assert.deepEqual(c.Env, ['BASE=/opt', 'APP=/opt/app', 'DIR=/opt/x', 'D=dflt', 'S=$BASE']);
  assert.equal(c.WorkingDir, '/opt/app');
});

test('ENTRYPOINT resets a CMD that the same changes did not set', () => {
  assert.equal(applyChanges({ Cmd: ['sh'] }, ['ENTRYPOINT ["top"]']).Cmd, null);
  assert.deepEqual(applyChanges({}, ['CMD ["-b"]', 'ENTRYPOINT ["top"]']).Cmd, ['-b']);
});

test('multi-line changes and continuations', () => {
  const c = applyChanges({}, ['ENV A=1\nENV B=2 \\\n  C=3', '# comment', '']);
  assert.deepEqual(c.Env, ['A=1', 'B=2', 'C=3']);
});

test('refuses invalid changes with clear messages', () => {
  const cases: [string, RegExp][] = [
    ['RUN echo hi', /^run is not a valid change command$/],
    ['FROM scratch', /^from is not a valid change command$/],
    ['STOPSIGNAL SIGNOPE', /^Invalid signal: SIGNOPE$/],
    ['EXPOSE 99999', /invalid containerPort: 99999/],
    ['ENV A=1 B', /can't find = in "B"/],
    ['ENV A="unterminated', /matching double-quote/],
    ['USER', /USER requires exactly one argument/],
    ['ONBUILD ONBUILD RUN x', /Chaining ONBUILD/],
    ['HEALTHCHECK --interval=fast CMD true', /invalid duration "fast"/],
  ];
  for (const [change, re] of cases) {
    assert.throws(() => applyChanges({}, [change]), (e: unknown) => e instanceof InvalidChangeError && re.test((e as Error).message), change);
  }
});
