import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipamConfigFromFlags } from './ipam-flags.js';

test('ranges, gateways and aux addresses go to the subnet that holds them, as the docker CLI does', () => {
  assert.deepEqual(
    ipamConfigFromFlags({
      subnet: ['10.1.0.0/24', 'fd00:1::/64', '10.2.0.0/24'],
      gateway: ['fd00:1::1', '10.2.0.254'],
      ipRange: ['10.2.0.128/25'],
      auxAddress: ['a=10.1.0.5', 'b=fd00:1::5'],
    }),
    [
      { Subnet: '10.1.0.0/24', AuxiliaryAddresses: { a: '10.1.0.5' } },
      { Subnet: 'fd00:1::/64', Gateway: 'fd00:1::1', AuxiliaryAddresses: { b: 'fd00:1::5' } },
      { Subnet: '10.2.0.0/24', IPRange: '10.2.0.128/25', Gateway: '10.2.0.254' },
    ],
  );
  assert.throws(() => ipamConfigFromFlags({ subnet: ['10.1.0.0/24'], gateway: ['10.9.0.1'] }), /no matching subnet for gateway 10\.9\.0\.1/);
  assert.throws(() => ipamConfigFromFlags({ subnet: ['10.1.0.0/24'], auxAddress: ['x'] }), /invalid aux-address x/);
  assert.throws(() => ipamConfigFromFlags({ subnet: ['10.1.0.0/24'], gateway: ['10.1.0.1', '10.1.0.2'] }), /multiple gateways/);
});
