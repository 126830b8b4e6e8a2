import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, humanDuration, humanSize } from '../../common/units.js';
import { alignColumns } from './tabwriter.js';
import { displayablePorts, ellipsis } from './row-views.js';

describe('units (go-units semantics)', () => {
  it('humanDuration', () => {
    const s = 1000;
    const cases: Array<[number, string]> = [
      [500, 'Less than a second'],
      [s, '1 second'],
      [59 * s, '59 seconds'],
      [60 * s, 'About a minute'],
      [119 * s, 'About a minute'],
      [120 * s, '2 minutes'],
      [59 * 60 * s, '59 minutes'],
      [60 * 60 * s, 'About an hour'],
      [89 * 60 * s, 'About an hour'],
      [90 * 60 * s, '2 hours'],
      [47 * 3600 * s, '47 hours'],
      [48 * 3600 * s, '2 days'],
      [14 * 86400 * s, '2 weeks'],
      [60 * 86400 * s, '2 months'],
      [2 * 365 * 86400 * s, '2 years'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, String(ms));
  });

  it('humanSize and bytesSize', () => {
    assert.equal(humanSize(0), '0B');
    assert.equal(humanSize(999), '999B');
    assert.equal(humanSize(1000), '1kB');
    assert.equal(humanSize(4_261_160, 3), '4.26MB');
    assert.equal(humanSize(4_194_304), '4.194MB');
    assert.equal(humanSize(999_999, 3), '1e+03kB');
    assert.equal(bytesSize(2087354368), '1.944GiB');
  });
});

describe('tabwriter', () => {
  it('pads columns to the widest cell + 3, at least 10, leaving the last cell alone', () => {
    assert.equal(alignColumns('A\tBB\tC\nlonger-cell-text\tx\ty\n'), 'A                  BB        C\nlonger-cell-text   x         y\n');
  });
});

describe('ps helpers', () => {
  it('ellipsis', () => {
    assert.equal(ellipsis('short', 20), 'short');
    assert.equal(ellipsis('abcdefghijklmnopqrstuvwxyz', 20), 'abcdefghijklmnopqrs…');
  });
  it('displayablePorts groups ranges and lists mappings', () => {
    assert.equal(
      displayablePorts([
        { PrivatePort: 81, Type: 'tcp' },
        { PrivatePort: 80, Type: 'tcp' },
        { PrivatePort: 53, Type: 'udp' },
        { IP: '0.0.0.0', PrivatePort: 443, PublicPort: 8443, Type: 'tcp' },
        { IP: '::', PrivatePort: 443, PublicPort: 8443, Type: 'tcp' },
      ]),
      '53/udp, 80-81/tcp, 0.0.0.0:8443->443/tcp, [::]:8443->443/tcp',
    );
  });
});
