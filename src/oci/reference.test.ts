import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseReference, parseNormalizedTagged, formatReference, familiarString, familiarName, InvalidReferenceError, isValidTag,
} from './reference.js';
import { chainIds, sha256Digest, parseDigest } from './digest.js';
import { isInvalidParameter } from '../common/errors.js';
import { goArch, parsePlatform } from './platform.js';

const D = 'sha256:' + 'a'.repeat(64);

test('normalises references as Docker does', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['localhost:5000/a/b:tag', 'localhost:5000/a/b:tag', 'localhost:5000/a/b:tag'],
    ['localhost/a', 'localhost/a:latest', 'localhost/a:latest'],
    ['registry.example.com/x/y/z', 'registry.example.com/x/y/z:latest', 'registry.example.com/x/y/z:latest'],
    ['[::1]:5000/app:v1', '[::1]:5000/app:v1', '[::1]:5000/app:v1'],
    ['my_app.v2-x__y', 'docker.io/library/my_app.v2-x__y:latest', 'my_app.v2-x__y:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`, `busybox:1@${D}`],
  ];
  for (const [input, normal, familiar] of cases) {
    const ref = parseNormalizedTagged(input);
    assert.equal(formatReference(ref), normal, input);
    assert.equal(familiarString(ref), familiar, input);
  }
});

test('a reference without a tag keeps none until asked', () => {
  const ref = parseReference('busybox');
  assert.equal(ref.tag, undefined);
  assert.equal(familiarName(ref), 'busybox');
  assert.equal(formatReference(ref), 'docker.io/library/busybox');
});

test('rejects malformed references with Docker\'s messages', () => {
  const cases: [string, RegExp][] = [
    ['', /^invalid reference format/],
    ['Busybox', /^invalid reference format: repository name \(library\/Busybox\) must be lowercase$/],
    ['busybox:', /^invalid reference format$/],
    ['busybox::1', /^invalid reference format$/],
    ['-busybox', /^invalid reference format$/],
    ['busybox-', /^invalid reference format$/],
    ['a//b', /^invalid reference format$/],
    ['a/b/', /^invalid reference format$/],
    ['busybox:' + 'x'.repeat(129), /^invalid reference format$/],
    ['busybox@sha256:abc', /^invalid reference format$/],
    ['busybox@sha256:' + 'a'.repeat(63), /invalid checksum digest length/],
    ['a'.repeat(64), /cannot specify 64-byte hexadecimal strings/],
    ['x/'.repeat(130) + 'y', /must not be more than 255 characters/],
    ['busy box', /^invalid reference format$/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => parseReference(input), (e: unknown) => {
      assert.ok(e instanceof InvalidReferenceError, input);
      assert.ok(isInvalidParameter(e));
      assert.match((e as Error).message, re, input);
      return true;
    });
  }
});

test('validates tags', () => {
  assert.ok(isValidTag('v1.0_rc-2'));
  assert.ok(!isValidTag('.v1'));
  assert.ok(!isValidTag(''));
  assert.ok(!isValidTag('a'.repeat(129)));
});

test('chain IDs follow the image spec', () => {
  const a = sha256Digest('a');
  const b = sha256Digest('b');
  const c = sha256Digest('c');
  const ids = chainIds([a, b, c]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], sha256Digest(`${a} ${b}`));
  assert.equal(ids[2], sha256Digest(`${ids[1]} ${c}`));
  assert.throws(() => parseDigest('sha256:xyz'), /invalid digest format/);
});

test('maps Node architectures to Go names and parses platforms', () => {
  assert.equal(goArch('x64'), 'amd64');
  assert.equal(goArch('arm64'), 'arm64');
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.throws(() => parsePlatform('linux/amd64/x/y'), /invalid platform/);
});
