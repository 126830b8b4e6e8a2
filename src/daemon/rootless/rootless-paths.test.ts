import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rootlessDefaults, rootlessMode, rootlessSocket } from './rootless-paths.js';
import { loadConfig } from '../config.js';

describe('rootless paths (issue 21)', () => {
  const env = { HOME: '/home/ann', XDG_RUNTIME_DIR: '/run/user/1000' };

  it('a non-root uid is rootless; uid 0 only inside rootlesskit started by a non-root user', () => {
    assert.equal(rootlessMode(1000, {}), true);
    assert.equal(rootlessMode(0, {}), false);
    assert.equal(rootlessMode(0, { ROOTLESSKIT_STATE_DIR: '/run/user/1000/berth/rootlesskit', ROOTLESSKIT_PARENT_EUID: '1000' }), true);
    assert.equal(rootlessMode(0, { ROOTLESSKIT_STATE_DIR: '/x', ROOTLESSKIT_PARENT_EUID: '0' }), false);
  });

  it('defaults under XDG_RUNTIME_DIR and ~/.local/share, XDG_DATA_HOME and XDG_CONFIG_HOME honoured', () => {
    assert.deepEqual(rootlessDefaults(env), {
      dataRoot: '/home/ann/.local/share/berth',
      execRoot: '/run/user/1000/berth',
      configFile: '/home/ann/.config/berth/daemon.json',
      signaturePolicy: '/home/ann/.config/berth/policy.json',
    });
    const x = rootlessDefaults({ ...env, XDG_DATA_HOME: '/d', XDG_CONFIG_HOME: '/c' });
    assert.equal(x.dataRoot, '/d/berth');
    assert.equal(x.configFile, '/c/berth/daemon.json');
    assert.equal(rootlessSocket(env), '/run/user/1000/berth/berth.sock');
  });

  it('XDG_RUNTIME_DIR is required, as Docker requires it', () => {
    assert.throws(() => rootlessDefaults({ HOME: '/home/ann' }), /XDG_RUNTIME_DIR/);
    assert.throws(() => rootlessDefaults({ HOME: '/home/ann', XDG_RUNTIME_DIR: 'relative' }), /XDG_RUNTIME_DIR/);
  });

  it('loadConfig gives a non-root user the rootless defaults and socket', () => {
    const c = loadConfig([], { ...env }, 1000);
    assert.equal(c.rootless, true);
    assert.equal(c.dataRoot, '/home/ann/.local/share/berth');
    assert.equal(c.execRoot, '/run/user/1000/berth');
    assert.deepEqual(c.hosts, ['unix:///run/user/1000/berth/berth.sock']);
    assert.equal(c.pidfile, '/run/user/1000/berth/berthd.pid');
    assert.equal(c.group, '', 'no socket group: a host group is not mapped in the user namespace');
    const root = loadConfig(['--config-file', '/dev/null/none'].slice(0, 0), { BERTH_CONFIG_FILE: '/nonexistent/daemon.json' }, 0);
    assert.equal(root.rootless, false);
    assert.equal(root.dataRoot, '/var/lib/berth');
  });
});
