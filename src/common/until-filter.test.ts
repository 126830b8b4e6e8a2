import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUntil } from './until-filter.js';
import { isInvalidParameter } from './errors.js';

test('until: durations are before now, numbers are Unix seconds, RFC 3339 is parsed', () => {
  const before = Date.now();
  const t = parseUntil('10m');
  assert.ok(t <= before - 600_000 + 50 && t >= before - 600_000 - 1000);
  assert.equal(parseUntil('1700000000'), 1_700_000_000_000);
  assert.equal(parseUntil('1700000000.5'), 1_700_000_000_500);
  assert.equal(parseUntil('2024-01-02T03:04:05Z'), Date.UTC(2024, 0, 2, 3, 4, 5));
});

test('until: a bad value is an invalid parameter', () => {
  assert.throws(() => parseUntil('yesterday'), (e) => isInvalidParameter(e));
});
