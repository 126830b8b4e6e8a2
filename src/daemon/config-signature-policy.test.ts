import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import { InvalidParameterError } from '../common/errors.js';

describe('daemon config: signature policy (#22)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-config-policy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'daemon.json');
  const load = (json: unknown, ...args: string[]) => {
    writeFileSync(file, JSON.stringify(json));
    return loadConfig(['--config-file', file, '--exec-root', dir, ...args], {});
  };

  it('defaults to /etc/berth/policy.json and /etc/containers/registries.d', () => {
    const c = load({});
    assert.equal(c.signaturePolicy, '/etc/berth/policy.json');
    assert.equal(c.registriesD, '/etc/containers/registries.d');
  });

  it('takes daemon.json keys, and flags over them', () => {
    const c = load({ 'signature-policy': '/srv/p.json', 'registries-d': '/srv/r.d' });
    assert.equal(c.signaturePolicy, '/srv/p.json');
    assert.equal(c.registriesD, '/srv/r.d');
    assert.equal(load({ 'signature-policy': '/srv/p.json' }, '--signature-policy', '/x/y.json').signaturePolicy, '/x/y.json');
  });

  it('refuses a value that is not a path', () => {
    assert.throws(() => load({ 'signature-policy': 7 }), InvalidParameterError);
    assert.throws(() => load({ 'registries-d': '' }), InvalidParameterError);
  });
});
