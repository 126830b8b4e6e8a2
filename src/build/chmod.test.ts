import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChmod } from './chmod.js';

const apply = (spec: string, mode: number, isDir = false): string => parseChmod(spec)!(mode, isDir).toString(8);

test('octal --chmod replaces the mode', () => {
  assert.equal(apply('755', 0o600), '755');
  assert.equal(apply('0640', 0o777), '640');
  assert.equal(apply('4755', 0o644), '4755');
});

test('symbolic --chmod follows chmod(1): =, +, -, several clauses, X only for dirs or executables', () => {
  assert.equal(apply('u=rwx,go=rx', 0o600), '755');
  assert.equal(apply('go-w', 0o666), '644');
  assert.equal(apply('a+x', 0o644), '755');
  assert.equal(apply('+x', 0o644), '755');
  assert.equal(apply('a+X', 0o644), '644');
  assert.equal(apply('a+X', 0o644, true), '755');
  assert.equal(apply('a+X', 0o744), '755');
  assert.equal(apply('u+s', 0o755), '4755');
  assert.equal(apply('g+s', 0o755), '2755');
  assert.equal(apply('+t', 0o777, true), '1777');
  assert.equal(apply('o=', 0o777), '770');
  assert.equal(apply('u+r-w', 0o200), '400');
});

test('malformed --chmod values are refused', () => {
  for (const bad of ['', '888', 'u=rwz', 'x+r', 'u', '12345', 'u=r,,', 'rwx', 'u=ru']) {
    assert.equal(parseChmod(bad), undefined, bad);
  }
});
