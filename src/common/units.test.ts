import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, humanSize } from './units.js';

test('humanDuration follows go-units', () => {
  assert.equal(humanDuration(300), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(45_000), '45 seconds');
  assert.equal(humanDuration(61_000), 'About a minute');
  assert.equal(humanDuration(5 * 60_000), '5 minutes');
  assert.equal(humanDuration(3_600_000), 'About an hour');
  assert.equal(humanDuration(5 * 3_600_000), '5 hours');
  assert.equal(humanDuration(3 * 86_400_000), '3 days');
  assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
});

test('humanSize uses SI units with three significant digits', () => {
  assert.equal(humanSize(512), '512B');
  assert.equal(humanSize(1_234_567), '1.23MB');
  assert.equal(humanSize(4_400_000), '4.4MB');
  assert.equal(humanSize(0), '0B');
});
