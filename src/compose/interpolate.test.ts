import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterpolationError, interpolateString, interpolateTree } from './interpolate.js';
import { parseEnvFile } from './env-file.js';

const env = { SET: 'v', EMPTY: '', NUM: '8080' };
const i = (s: string, warn?: (n: string) => void): string => interpolateString(s, { env, warn });

test('interpolation: plain, braces, defaults, alternatives and $$', () => {
  assert.equal(i('$SET-${SET}'), 'v-v');
  assert.equal(i('${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}'), 'd|d||d');
  assert.equal(i('${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}'), 'alt||alt|');
  assert.equal(i('$$SET and $${SET}'), '$SET and ${SET}');
  assert.equal(i('${UNSET:-${NUM}}'), '8080');
  assert.equal(i('${UNSET:-a ${UNSET2:-b}}'), 'a b');
});

test('interpolation: an unset variable warns once and becomes empty', () => {
  const warned: string[] = [];
  assert.equal(i('a${NOPE}b', (n) => warned.push(n)), 'ab');
  assert.deepEqual(warned, ['NOPE']);
});

test('interpolation: required variables and bad syntax throw with the path', () => {
  assert.throws(() => i('${UNSET:?must be set}'), (e: Error) => e instanceof InterpolationError && e.message === 'required variable UNSET is missing a value: must be set');
  assert.throws(() => i('${EMPTY:?}'), /required variable EMPTY is missing a value/);
  assert.equal(i('${EMPTY?x}'), '');
  assert.throws(() => interpolateString('${', { env, path: 'services.web.image' }), /invalid interpolation format for services.web.image/);
  assert.throws(() => interpolateString('${1X}', { env }), /invalid interpolation format/);
});

test('interpolation: trees keep keys and non-strings', () => {
  assert.deepEqual(interpolateTree({ '$KEY': ['${SET}', 3, true, null] }, { env }), { '$KEY': ['v', 3, true, null] });
});

test('.env files: quotes, comments, export, interpolation, lookup', () => {
  const text = [
    '# comment',
    'A=1',
    'export B = two # trailing comment',
    "C='single $A'",
    'D="double ${A}\\nline"',
    'E=${A}${B}',
    'F',
    'G=',
    'H="multi',
    'line"',
  ].join('\n');
  assert.deepEqual(parseEnvFile(text, { lookup: { F: 'from-env' } }), {
    A: '1',
    B: 'two',
    C: 'single $A',
    D: 'double 1\nline',
    E: '1two',
    F: 'from-env',
    G: '',
    H: 'multi\nline',
  });
  assert.throws(() => parseEnvFile('BAD KEY=1'), /variable name/);
});
