import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collect, FlagError, FlagSet, parseIntFlag } from './flags.js';

function runFlags(): FlagSet {
  return new FlagSet()
    .option('-d, --detach', 'Run in background')
    .option('-i, --interactive', 'Keep STDIN open')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--rm', 'Remove')
    .option('--sig-proxy', 'Proxy signals', true)
    .option('-e, --env <list>', 'Env', collect)
    .option('--name <string>', 'Name')
    .option('-n, --last <int>', 'Last', parseIntFlag, -1)
    .option('--no-trunc', "Don't truncate");
}

describe('FlagSet (pflag rules)', () => {
  it('parses long, short, combined and attached forms', () => {
    const { args, opts } = runFlags().parse(['-dit', '--rm=false', '--sig-proxy=false', '-eA=1', '-e', 'B=2', '--env=C', '--name', 'web', '-n3', '--no-trunc', 'img']);
    assert.deepEqual(args, ['img']);
    assert.deepEqual(opts, { detach: true, interactive: true, tty: true, rm: false, sigProxy: false, env: ['A=1', 'B=2', 'C'], name: 'web', last: 3, trunc: false });
  });

  it('defaults, interspersed arguments and --', () => {
    const r = runFlags().parse(['a', '-d', 'b', '--', '-i']);
    assert.deepEqual(r.args, ['a', 'b', '-i']);
    assert.deepEqual(r.opts, { sigProxy: true, last: -1, trunc: true, detach: true });
  });

  it('stops at the first argument when asked (run IMAGE CMD --flags)', () => {
    const r = runFlags().parse(['-d', 'busybox', 'ls', '-l', '--rm'], { stopAtFirstArg: true });
    assert.deepEqual(r.args, ['busybox', 'ls', '-l', '--rm']);
    assert.equal(r.opts.rm, undefined);
  });

  it('reports errors in pflag wording', () => {
    const cases: Array<[string[], string]> = [
      [['--foo'], 'unknown flag: --foo'],
      [['-dZ'], "unknown shorthand flag: 'Z' in -dZ"],
      [['-e'], "flag needs an argument: 'e' in -e"],
      [['--name'], 'flag needs an argument: --name'],
      [['-n', 'x'], 'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax'],
      [['--rm=maybe'], 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
    ];
    for (const [argv, message] of cases) {
      assert.throws(() => runFlags().parse(argv), (err: unknown) => err instanceof FlagError && err.message === message, argv.join(' '));
    }
  });

  it('--help and -h (when -h is not a flag) ask for help', () => {
    assert.equal(runFlags().parse(['--help']).help, true);
    assert.equal(runFlags().parse(['-h']).help, true);
    assert.equal(new FlagSet().option('-h, --hostname <string>', 'Host').parse(['-h', 'box']).opts.hostname, 'box');
  });
});
