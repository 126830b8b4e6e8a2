import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, parseDuration, DockerfileParseError, type Instruction } from './parser.js';
import { processWord, processWords, SubstitutionError } from './lexer.js';

const only = (text: string): Instruction => {
  const df = parseDockerfile(`FROM busybox\n${text}`);
  assert.equal(df.stages[0]!.instructions.length, 1);
  return df.stages[0]!.instructions[0]!;
};

const parseError = (text: string, file = 'Dockerfile'): DockerfileParseError => {
  try {
    parseDockerfile(text, { file });
  } catch (e) {
    assert.ok(e instanceof DockerfileParseError, String(e));
    return e;
  }
  assert.fail('expected a parse error');
};

test('directives: escape and syntax at the top only', () => {
  const df = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN echo a `\n  b\n');
  assert.equal(df.escape, '`');
  assert.equal(df.syntax, 'docker/dockerfile:1');
  const run = df.stages[0]!.instructions[0]!;
  assert.equal(run.kind, 'run');
  assert.deepEqual(run.kind === 'run' && run.command, { shell: 'echo a   b' });
  // After an instruction, a directive is a comment.
  const late = parseDockerfile('FROM busybox\n# escape=`\nRUN echo a \\\n b\n');
  assert.equal(late.escape, '\\');
  assert.equal(parseError('# escape=x\nFROM a\n').line, 1);
  assert.match(parseError('# escape=\\\n# escape=`\nFROM a\n').message, /only one escape parser directive/);
});

test('comments and continuations, with comment lines inside a continuation', () => {
  const df = parseDockerfile('# comment\n\nFROM busybox\nRUN echo one \\\n# inner comment\n\n    two\n  # indented comment\nCMD ["sh"]\n');
  const [run, cmd] = df.stages[0]!.instructions;
  assert.deepEqual(run!.kind === 'run' && run!.command, { shell: 'echo one     two' });
  assert.equal(run!.line, 4);
  assert.equal(cmd!.line, 9);
  assert.deepEqual(cmd!.kind === 'cmd' && cmd!.command, { exec: ['sh'] });
});

test('heredocs: RUN and COPY bodies, <<- strips tabs, quoted delimiter disables expansion', () => {
  const df = parseDockerfile('FROM busybox\nRUN <<EOF\necho hi\necho there\nEOF\nCOPY <<-"END" /x\n\tliteral $X\n\tEND\nRUN echo done\n');
  const [run, copy, last] = df.stages[0]!.instructions;
  assert.equal(run!.kind, 'run');
  assert.deepEqual(run!.kind === 'run' && run!.heredocs, [{ name: 'EOF', content: 'echo hi\necho there\n', expand: true }]);
  assert.equal(copy!.kind, 'copy');
  assert.deepEqual(copy!.kind === 'copy' && copy!.heredocs, [{ name: 'END', content: 'literal $X\n', expand: false }]);
  assert.equal(last!.line, 9);
  assert.match(parseError('FROM a\nRUN <<EOF\necho\n').message, /line 2 of Dockerfile: unterminated heredoc: EOF/);
});

test('every instruction parses into its shape', () => {
  assert.deepEqual(only('RUN ["echo", "a b"]'), { original: 'RUN ["echo", "a b"]', line: 2, kind: 'run', command: { exec: ['echo', 'a b'] }, heredocs: [], flags: {}, flagList: [] });
  assert.deepEqual((only('RUN [not json') as { command: unknown }).command, { shell: '[not json' });
  assert.deepEqual((only('ENTRYPOINT echo hi') as { command: unknown }).command, { shell: 'echo hi' });
  assert.deepEqual((only('SHELL ["/bin/sh", "-ec"]') as { exec: unknown }).exec, ['/bin/sh', '-ec']);
  assert.deepEqual((only('ENV A=1 B="x y" C=z\\ w') as { pairs: unknown }).pairs, [
    { key: 'A', value: '1' }, { key: 'B', value: '"x y"' }, { key: 'C', value: 'z\\ w' },
  ]);
  assert.deepEqual((only('ENV OLD value with spaces') as { pairs: unknown }).pairs, [{ key: 'OLD', value: 'value with spaces' }]);
  assert.deepEqual((only('LABEL "com.x"="1 2" b=3') as { pairs: unknown }).pairs, [{ key: '"com.x"', value: '"1 2"' }, { key: 'b', value: '3' }]);
  assert.deepEqual((only('ARG A B=2') as { args: unknown }).args, [{ name: 'A' }, { name: 'B', value: '2' }]);
  assert.deepEqual((only('EXPOSE 80 443/tcp') as { words: unknown }).words, ['80', '443/tcp']);
  assert.deepEqual((only('VOLUME ["/a", "/b"]') as { words: unknown }).words, ['/a', '/b']);
  const copy = only('COPY --from=build --chown=1:2 --chmod=755 a b* /dst/') as Extract<Instruction, { kind: 'copy' | 'add' }>;
  assert.deepEqual([copy.sources, copy.dest, copy.from, copy.chown, copy.chmod], [['a', 'b*'], '/dst/', 'build', '1:2', '755']);
  const add = only('ADD ["a b", "/c"]') as Extract<Instruction, { kind: 'copy' | 'add' }>;
  assert.deepEqual([add.sources, add.dest, add.json], [['a b'], '/c', true]);
  assert.equal((only('WORKDIR /a b') as { value: string }).value, '/a b');
  assert.equal((only('USER 1000:1000') as { value: string }).value, '1000:1000');
  assert.equal((only('STOPSIGNAL SIGKILL') as { value: string }).value, 'SIGKILL');
  assert.equal(only('MAINTAINER someone <a@b>').kind, 'maintainer');
  const hc = only('HEALTHCHECK --interval=5s --retries=3 CMD curl -f x') as Extract<Instruction, { kind: 'healthcheck' }>;
  assert.deepEqual([hc.test, hc.interval, hc.retries], [['CMD-SHELL', 'curl -f x'], '5s', '3']);
  assert.deepEqual((only('HEALTHCHECK CMD ["true"]') as { test: unknown }).test, ['CMD', 'true']);
  assert.deepEqual((only('HEALTHCHECK NONE') as { test: unknown }).test, ['NONE']);
  assert.equal((only('ONBUILD RUN echo x') as { trigger: string }).trigger, 'RUN echo x');
  assert.equal(only('run echo lower-case keyword').kind, 'run');
});

test('stages: AS names, meta ARGs before FROM, duplicates refused', () => {
  const df = parseDockerfile('ARG BASE=busybox\nFROM $BASE AS Build\nRUN x\nFROM scratch\nCOPY --from=build /a /a\n');
  assert.equal(df.metaArgs.length, 1);
  assert.equal(df.stages.length, 2);
  assert.equal(df.stages[0]!.name, 'build');
  assert.equal(df.stages[0]!.from.image, '$BASE');
  assert.equal(df.stages[1]!.from.image, 'scratch');
  assert.match(parseError('FROM a AS x\nFROM b AS x\n').message, /line 2 of Dockerfile: duplicate stage name "x"/);
});

test('errors name the file and the line', () => {
  const e = parseError('FROM busybox\n\nFOO bar\n', 'app.Dockerfile');
  assert.equal(e.line, 3);
  assert.equal(e.file, 'app.Dockerfile');
  assert.equal(e.message, 'dockerfile parse error line 3 of app.Dockerfile: unknown instruction: FOO');
  assert.match(parseError('RUN echo\n').message, /line 1 of Dockerfile: RUN before FROM/);
  assert.match(parseError('FROM a b\n').message, /FROM requires either one or three arguments/);
  assert.match(parseError('FROM a\nCOPY onlyone\n').message, /line 2 of Dockerfile: COPY requires at least two arguments/);
  assert.match(parseError('FROM a\nENV\n').message, /ENV requires at least one argument/);
  assert.match(parseError('FROM a\nENV A=1 B\n').message, /can't find = in "B"/);
  assert.match(parseError('FROM a\nSHELL sh -c\n').message, /SHELL requires the arguments to be in JSON form/);
  assert.match(parseError('FROM a\nCOPY --bogus=1 a b\n').message, /unknown flag: bogus/);
  assert.match(parseError('FROM a\nHEALTHCHECK --interval=abc CMD x\n').message, /invalid duration/);
  assert.match(parseError('FROM a\nONBUILD ONBUILD RUN x\n').message, /Chaining ONBUILD/);
  assert.match(parseError('FROM a\nCOPY --chmod=999 a b\n').message, /invalid chmod/);
  assert.match(parseError('# just a comment\n').message, /file with no instructions/);
});

test('substitution: $VAR, ${VAR}, defaults, alternatives, quotes and escapes', () => {
  const env: Record<string, string> = { A: 'one', E: '', S: 'x y' };
  const look = (n: string): string | undefined => env[n];
  assert.equal(processWord('$A-${A}', look), 'one-one');
  assert.equal(processWord('${MISSING:-def}/${E:-empty}/${E-set}', look), 'def/empty/');
  assert.equal(processWord('${A:+alt}|${MISSING:+alt}|${E+alt}', look), 'alt||alt');
  assert.equal(processWord("'$A' \"$A\" \\$A", look), '$A one $A');
  assert.equal(processWord('"a \\"q\\" b"', look), 'a "q" b');
  assert.equal(processWord('${MISSING:-${A}}', look), 'one');
  assert.equal(processWord('$ cost $1', look), '$ cost ');
  assert.equal(processWord('`$A', look, '`'), '$A');
  assert.deepEqual(processWords('a "b c" $S', look), ['a', 'b c', 'x', 'y']);
  assert.throws(() => processWord('${A', look), SubstitutionError);
  assert.throws(() => processWord('${MISSING:?must be set}', look), /MISSING: must be set/);
  assert.throws(() => processWord('"open', look), /double-quote/);
});

test('Go durations for HEALTHCHECK', () => {
  assert.equal(parseDuration('30s'), 30e9);
  assert.equal(parseDuration('1m30s'), 90e9);
  assert.equal(parseDuration('500ms'), 5e8);
  assert.equal(parseDuration('5x'), undefined);
});

test('repeatable flags keep every value in order; a single-valued flag given twice is an error', () => {
  const run = only('RUN --mount=type=cache,target=/a --mount=type=tmpfs,target=/t --network=none echo') as Extract<Instruction, { kind: 'run' }>;
  assert.deepEqual(run.flagList, [
    { name: 'mount', value: 'type=cache,target=/a' }, { name: 'mount', value: 'type=tmpfs,target=/t' }, { name: 'network', value: 'none' },
  ]);
  const copy = only('COPY --exclude=*.md --exclude=tmp --parents a/./b /d/') as Extract<Instruction, { kind: 'copy' | 'add' }>;
  assert.deepEqual(copy.flagList.filter((f) => f.name === 'exclude').map((f) => f.value), ['*.md', 'tmp']);
  assert.match(parseError('FROM a\nRUN --network=none --network=host echo\n').message, /line 2 of Dockerfile: RUN flag --network given more than once/);
  assert.match(parseError('FROM a\nRUN --bogus=1 echo\n').message, /line 2 of Dockerfile: unknown flag: bogus/);
});

test('--chmod takes octal and symbolic modes; anything else fails at its line', () => {
  assert.equal((only('COPY --chmod=u=rwx,go=rx a /b') as { chmod?: string }).chmod, 'u=rwx,go=rx');
  assert.equal((only('COPY --chmod=$MODE a /b') as { chmod?: string }).chmod, '$MODE');
  assert.match(parseError('FROM a\n\nCOPY --chmod=u=rwz a b\n').message, /line 3 of Dockerfile: invalid chmod parameter: u=rwz/);
});
