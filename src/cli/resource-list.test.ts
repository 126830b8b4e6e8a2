import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandModule } from './command.js';
import { confirmPrune, keyValues, labelsText } from './resource-list.js';
import { Capture, input } from './test-streams.js';

type Ctx = Parameters<CommandModule['run']>[0];
const ctxWith = (text: string) => {
  const stdout = new Capture();
  return { ctx: { stdout, stdin: input(text) } as unknown as Ctx, stdout };
};

test('prune confirmation: docker prompt, yes/y accepted, anything else or end of input is no', async () => {
  for (const [answer, want] of [['y\n', true], [' YES \n', true], ['n\n', false], ['yep\n', false], ['', false]] as const) {
    const { ctx, stdout } = ctxWith(answer);
    assert.equal(await confirmPrune(ctx, 'WARNING! This will remove all stopped containers.'), want, JSON.stringify(answer));
    assert.equal(stdout.text, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
  }
});

test('KEY=VALUE flags: bare key is empty, value keeps later =, leading = is refused', () => {
  assert.deepEqual(keyValues(['a=1', 'b', 'c=x=y'], 'label'), { a: '1', b: '', c: 'x=y' });
  assert.throws(() => keyValues(['=v'], 'label'), /invalid argument "=v" for "--label" flag: invalid key/);
  assert.equal(labelsText({ a: '1', b: '' }), 'a=1,b=');
  assert.equal(labelsText(null), '');
});
