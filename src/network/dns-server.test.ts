import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { silentLogger } from '../common/logger.js';
import { EmbeddedDns } from './dns-server.js';

const log = silentLogger();
type Reply = dnsPacket.Packet & { rcode?: string };
const servers: EmbeddedDns[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(names: Record<string, string[]>, upstreams: string[] = []): Promise<EmbeddedDns> {
  const s = new EmbeddedDns({ address: '127.0.0.1', port: 0, lookup: (n) => names[n], upstreams, log });
  await s.start();
  servers.push(s);
  return s;
}

function udpQuery(port: number, name: string, type: 'A' | 'AAAA' = 'A'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (m) => {
      sock.close();
      resolve(dnsPacket.decode(m) as Reply);
    });
    sock.on('error', reject);
    sock.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), port, '127.0.0.1');
  });
}

function tcpQuery(port: number, name: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as Reply);
      }
    });
    sock.on('error', reject);
    sock.write(dnsPacket.streamEncode({ type: 'query', id: 9, questions: [{ type: 'A', name }] }));
  });
}

test('answers A for names of the network, empty AAAA, NXDOMAIN for unknown single labels; UDP and TCP', async () => {
  const s = await serve({ web: ['10.9.0.2'], 'web-alias': ['10.9.0.2'] });
  const a = await udpQuery(s.port, 'web');
  assert.equal(a.id, 7);
  assert.equal(a.rcode, 'NOERROR');
  assert.deepEqual(a.answers?.map((x) => (x as { data: string }).data), ['10.9.0.2']);
  const upper = await udpQuery(s.port, 'WEB-ALIAS.');
  assert.deepEqual(upper.answers?.map((x) => (x as { data: string }).data), ['10.9.0.2']);
  const aaaa = await udpQuery(s.port, 'web', 'AAAA');
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.equal(aaaa.answers?.length, 0);
  const miss = await udpQuery(s.port, 'nothere');
  assert.equal(miss.rcode, 'NXDOMAIN');
  const t = await tcpQuery(s.port, 'web');
  assert.equal(t.id, 9);
  assert.deepEqual(t.answers?.map((x) => (x as { data: string }).data), ['10.9.0.2']);
});

test('other names go to the upstream resolvers; SERVFAIL when none answers', async () => {
  const upstream = await serve({ 'db.example.org': ['192.0.2.10'] });
  const s = await serve({}, [`127.0.0.1:${upstream.port}`]);
  // The upstream (itself an EmbeddedDns here) knows the dotted name.
  const fwd = await udpQuery(s.port, 'db.example.org');
  assert.deepEqual(fwd.answers?.map((x) => (x as { data: string }).data), ['192.0.2.10']);
  const none = await serve({}, []);
  assert.equal((await udpQuery(none.port, 'x.example.org')).rcode, 'SERVFAIL');
});

test('AAAA answers the IPv6 addresses of a dual-stack name, A the IPv4 ones (issue 25)', async () => {
  const s = await serve({ web: ['10.0.0.2', 'fd00:1::2'], v4only: ['10.0.0.3'] });
  const aaaa = await udpQuery(s.port, 'web', 'AAAA');
  assert.deepEqual(aaaa.answers?.map((a) => [a.type, (a as { data?: unknown }).data]), [['AAAA', 'fd00:1::2']]);
  const a = await udpQuery(s.port, 'web', 'A');
  assert.deepEqual(a.answers?.map((x) => [x.type, (x as { data?: unknown }).data]), [['A', '10.0.0.2']]);
  const none = await udpQuery(s.port, 'v4only', 'AAAA');
  assert.equal(none.rcode, 'NOERROR');
  assert.deepEqual(none.answers, []);
});
