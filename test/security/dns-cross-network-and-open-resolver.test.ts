/**
 * Issue 24 item 5 (and issue 15 item 3): each user network's DNS server answered every
 * network, and recursively for anyone who could reach it. A container on network A resolved
 * B's names through B's gateway although it could not reach B's containers, and the host (or
 * anything routed to a gateway) could use it as a resolver. Now a network's DNS answers only
 * its own containers, with the names of every network the asking container is on (so names
 * on a connected network resolve, and an alias set on one network only there).
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { type TestDaemon } from '../helpers/daemon.js';
import { cliChecks, daemonWithWorkDir } from '../helpers/suite.js';

/** One A query for `name` to server:53 from the host; the answer's addresses, or undefined when no reply came in time. */
function queryFromHost(server: string, name: string, timeoutMs = 2000): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65535);
    const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
    const q = Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(t);
      s.close();
      // Addresses are the last 4 bytes of each A record; enough to find a known IP in the reply.
      const ips: string[] = [];
      for (let i = 0; i + 4 <= msg.length; i++) if (msg.readUInt16BE(i) === 4 && i >= 2 && msg.readUInt16BE(i - 8) === 1) ips.push([...msg.subarray(i + 2, i + 6)].join('.'));
      resolve(ips);
    });
    s.on('error', () => {
      clearTimeout(t);
      s.close();
      resolve(undefined);
    });
    s.send(q, 53, server);
  });
}

describe('security: asking another network\'s DNS, and using a network\'s DNS as an open resolver', () => {
  const suite = daemonWithWorkDir('sec-dns', 'berth-test-sec-dns-');
  let d: TestDaemon;
  before(() => {
    ({ d } = suite);
  });
  const { ok } = cliChecks(() => d, 'docker');
  const ipOn = async (c: string, net: string) => (await ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c])).trim();
  const gatewayOf = async (net: string) => (await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', net])).trim();
  /** nslookup inside `c` (bounded), returning its output and exit code. */
  const lookup = async (c: string, name: string, server?: string) => {
    const r = await d.docker(['exec', c, 'timeout', '4', 'nslookup', name, ...(server ? [server] : [])]);
    return { code: r.code, out: r.stdout + r.stderr };
  };

  test('a container resolves only the networks it is on; other networks\' DNS and the host get nothing', async () => {
    await ok(['network', 'create', 'neta']);
    await ok(['network', 'create', 'netb']);
    await ok(['run', '-d', '--name', 'ca', '--network', 'neta', 'busybox', 'sleep', '300']);
    await ok(['run', '-d', '--name', 'cb', '--network', 'netb', 'busybox', 'sleep', '300']);
    // Both networks, an alias on netb only.
    await ok(['create', '--name', 'both', '--network', 'neta', 'busybox', 'sleep', '300']);
    await ok(['network', 'connect', '--alias', 'only-on-b', 'netb', 'both']);
    await ok(['start', 'both']);
    const cbIp = await ipOn('cb', 'netb');
    const gwA = await gatewayOf('neta');
    const gwB = await gatewayOf('netb');

    // Through its own network's DNS, ca knows neta's names only.
    assert.match((await lookup('ca', 'both')).out, new RegExp((await ipOn('both', 'neta')).replaceAll('.', '\\.')));
    const own = await lookup('ca', 'cb');
    assert.doesNotMatch(own.out, new RegExp(cbIp.replaceAll('.', '\\.')), 'cb is on a network ca is not on');
    assert.doesNotMatch((await lookup('ca', 'only-on-b')).out, new RegExp((await ipOn('both', 'netb')).replaceAll('.', '\\.')));
    // Asking netb's DNS directly gets no answer at all.
    const cross = await lookup('ca', 'cb', gwB);
    assert.doesNotMatch(cross.out, new RegExp(cbIp.replaceAll('.', '\\.')), `ca read netb's names through netb's DNS:\n${cross.out}`);
    // The host is no client either: not for names, and so not for forwarding.
    assert.equal(await queryFromHost(gwA, 'ca'), undefined, 'the host got an answer from neta\'s DNS');
    assert.equal(await queryFromHost(gwB, 'cb'), undefined, 'the host got an answer from netb\'s DNS');

    // A container on both networks resolves both, the alias included (issue 15 item 3), through its one resolver.
    const fromBoth = await lookup('both', 'cb');
    assert.equal(fromBoth.code, 0, fromBoth.out);
    assert.match(fromBoth.out, new RegExp(cbIp.replaceAll('.', '\\.')));
    assert.match((await lookup('both', 'ca')).out, new RegExp((await ipOn('ca', 'neta')).replaceAll('.', '\\.')));

    // After `network connect`, ca resolves netb's names, and the alias that exists on netb only.
    await ok(['network', 'connect', 'netb', 'ca']);
    const after = await lookup('ca', 'cb');
    assert.equal(after.code, 0, after.out);
    assert.match(after.out, new RegExp(cbIp.replaceAll('.', '\\.')));
    assert.match((await lookup('ca', 'only-on-b')).out, new RegExp((await ipOn('both', 'netb')).replaceAll('.', '\\.')));
    // And after disconnecting, they are gone again.
    await ok(['network', 'disconnect', 'netb', 'ca']);
    assert.doesNotMatch((await lookup('ca', 'cb')).out, new RegExp(cbIp.replaceAll('.', '\\.')));
    await ok(['rm', '-f', 'ca', 'cb', 'both']);
  });
});
