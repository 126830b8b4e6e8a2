import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../oci/digest.js';
import { parseReference } from '../oci/reference.js';
import { fetchLookasideSignatures, loadRegistriesD, lookasideUrl, lookasideWriteUrl, storeLookasideSignature } from './lookaside.js';

test('registries.d lookaside stores: scopes, staging, signature-N files (#22)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-lookaside-'));
  try {
    const d = join(dir, 'registries.d');
    await mkdir(d);
    await writeFile(join(d, 'a.yaml'), `default-docker:\n  sigstore: file://${dir}/default\ndocker:\n  r.example/team:\n    lookaside: file://${dir}/team\n    lookaside-staging: file://${dir}/staging\n  r.example:\n  other.example:\n    lookaside: https://sigs.other.example/x\n`);
    await writeFile(join(d, 'ignored.txt'), 'not: [yaml');
    const cfg = await loadRegistriesD(d);
    assert.equal(lookasideUrl(cfg, parseReference('r.example/team/app:1')), `file://${dir}/team`);
    assert.equal(lookasideUrl(cfg, parseReference('r.example/solo:1')), `file://${dir}/default`);
    assert.equal(lookasideUrl(cfg, parseReference('other.example/a')), 'https://sigs.other.example/x');
    assert.equal(lookasideWriteUrl(cfg, parseReference('r.example/team/app:1')), `file://${dir}/staging`);
    assert.deepEqual(await loadRegistriesD(join(dir, 'missing')), { docker: {}, dockerStaging: {} });
    await writeFile(join(d, 'b.yaml'), 'docker: [unclosed');
    await assert.rejects(loadRegistriesD(d), /invalid registries.d file/);

    const ref = parseReference('r.example/team/app:1');
    const digest = sha256Digest('m');
    const base = `file://${dir}/team`;
    assert.deepEqual(await fetchLookasideSignatures(base, ref, digest), []);
    const p1 = await storeLookasideSignature(base, ref, digest, Buffer.from('one'));
    const p2 = await storeLookasideSignature(base, ref, digest, Buffer.from('two'));
    assert.equal(await storeLookasideSignature(base, ref, digest, Buffer.from('one')), p1);
    assert.equal(p1, join(dir, 'team', `team/app@sha256=${digest.slice(7)}`, 'signature-1'));
    assert.equal(await readFile(p2, 'utf8'), 'two');
    assert.deepEqual((await fetchLookasideSignatures(base, ref, digest)).map(String), ['one', 'two']);
    await assert.rejects(storeLookasideSignature('https://x.example', ref, digest, Buffer.from('x')), /only file:\/\//);
    await assert.rejects(fetchLookasideSignatures('ftp://x', ref, digest), /unsupported lookaside URL/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
