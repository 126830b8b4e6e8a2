import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidParameterError, NotImplementedError } from '../../common/errors.js';
import { assertReadable, localFilePolicy, mergeLogConfig, parseFluentdAddress, parseSyslogAddress, validateLogConfig } from './drivers.js';
import { renderTag } from './tag-template.js';
import { formatSyslog } from './syslog.js';

const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof InvalidParameterError && re.test((e as Error).message));

test('each driver accepts its own options and refuses others in Docker\'s wording', () => {
  validateLogConfig('json-file', { 'max-size': '10m', 'max-file': '3', labels: 'a', tag: '{{.Name}}' });
  validateLogConfig('local', { 'max-size': '10m', 'max-file': '3', compress: 'false' });
  validateLogConfig('none', {});
  validateLogConfig('syslog', { 'syslog-address': 'udp://127.0.0.1:5514', 'syslog-format': 'rfc5424', 'syslog-facility': 'local3', tag: '{{.ID}}', 'cache-disabled': 'true' });
  validateLogConfig('fluentd', { 'fluentd-address': '127.0.0.1:24224', 'fluentd-async': 'true', 'fluentd-retry-wait': '500ms', mode: 'non-blocking', 'max-buffer-size': '4m' });
  validateLogConfig('journald', { tag: 'x', labels: 'l', env: 'E' });
  refused(() => validateLogConfig('json-file', { 'syslog-address': 'udp://x' }), /^unknown log opt 'syslog-address' for json-file log driver$/);
  refused(() => validateLogConfig('syslog', { 'max-size': '1m' }), /^unknown log opt 'max-size' for syslog log driver$/);
  refused(() => validateLogConfig('local', { tag: 'x' }), /^unknown log opt 'tag' for log driver local$/);
  refused(() => validateLogConfig('none', { 'max-size': '1m' }), /unknown log opt 'max-size' for none log driver/);
  refused(() => validateLogConfig('json-file', { 'cache-disabled': 'true' }), /unknown log opt 'cache-disabled'/);
  refused(() => validateLogConfig('nosuch', {}), /^logger: no log driver named 'nosuch' is registered$/);
  refused(() => validateLogConfig('gelf', {}), /not supported by berth/);
  refused(() => validateLogConfig('syslog', { 'syslog-format': 'rfc9999' }), /Invalid syslog format: rfc9999/);
  refused(() => validateLogConfig('syslog', { 'syslog-address': 'http://x' }), /unsupported scheme/);
  refused(() => validateLogConfig('syslog', { 'syslog-facility': 'nope' }), /invalid syslog facility 'nope'/);
  refused(() => validateLogConfig('syslog', { 'syslog-tls-skip-verify': 'true' }), /need a tcp\+tls/);
  refused(() => validateLogConfig('json-file', { mode: 'fast' }), /logging mode not supported: fast/);
  refused(() => validateLogConfig('json-file', { 'max-buffer-size': '1m' }), /only supported with 'mode=non-blocking'/);
  refused(() => validateLogConfig('json-file', { 'max-file': '0' }), /invalid value for max-file/);
  refused(() => validateLogConfig('json-file', { compress: 'true' }), /compress=true is not supported by berth/);
  refused(() => validateLogConfig('json-file', { tag: '{{.Nope}}' }), /unknown field \.Nope/);
  refused(() => validateLogConfig('fluentd', { 'fluentd-retry-wait': 'soon' }), /fluentd-retry-wait/);
});

test('addresses', () => {
  assert.deepEqual(parseSyslogAddress(undefined), { kind: 'unix', path: '/dev/log' });
  assert.deepEqual(parseSyslogAddress('udp://127.0.0.1'), { kind: 'udp', host: '127.0.0.1', port: 514 });
  assert.deepEqual(parseSyslogAddress('tcp://[::1]:6514'), { kind: 'tcp', host: '::1', port: 6514 });
  assert.deepEqual(parseSyslogAddress('unixgram:///run/x.sock'), { kind: 'unixgram', path: '/run/x.sock' });
  assert.deepEqual(parseFluentdAddress(undefined), { kind: 'tcp', host: '127.0.0.1', port: 24224 });
  assert.deepEqual(parseFluentdAddress('tcp://localhost:24225'), { kind: 'tcp', host: 'localhost', port: 24225 });
  assert.deepEqual(parseFluentdAddress('unix:///run/f.sock'), { kind: 'unix', path: '/run/f.sock' });
});

test('the daemon default merges into a container config as dockerd does; readability; local file policy', () => {
  const daemon = { type: 'syslog', config: { 'syslog-address': 'udp://127.0.0.1:1' } };
  assert.deepEqual(mergeLogConfig(undefined, daemon), daemon);
  assert.deepEqual(mergeLogConfig({ type: '', config: { tag: 't' } }, daemon), { type: 'syslog', config: { tag: 't', 'syslog-address': 'udp://127.0.0.1:1' } });
  assert.deepEqual(mergeLogConfig({ type: 'json-file', config: {} }, daemon), { type: 'json-file', config: {} });
  assert.throws(() => assertReadable({ type: 'none', config: {} }), (e: unknown) => e instanceof NotImplementedError && (e as Error).message === 'configured logging driver does not support reading');
  assert.throws(() => assertReadable({ type: 'syslog', config: { 'cache-disabled': 'true' } }), NotImplementedError);
  assertReadable({ type: 'syslog', config: {} });
  assertReadable({ type: 'local', config: {} });
  const defaults = { maxSize: 100, maxFile: 2 };
  assert.deepEqual(localFilePolicy({ type: 'json-file', config: {} }, defaults), defaults);
  assert.deepEqual(localFilePolicy({ type: 'local', config: {} }, defaults), { maxSize: 20 * 1024 * 1024, maxFile: 5 });
  assert.deepEqual(localFilePolicy({ type: 'fluentd', config: { 'cache-max-size': '1k', 'cache-max-file': '2' } }, defaults), { maxSize: 1024, maxFile: 2 });
  assert.deepEqual(localFilePolicy({ type: 'none', config: {} }, defaults), { maxSize: 1024 * 1024, maxFile: 1 });
});

test('tag templates and syslog formats', () => {
  const ctx = { id: 'a'.repeat(64), name: '/web', imageId: 'sha256:' + 'b'.repeat(64), imageName: 'busybox', daemonName: 'berth' };
  assert.equal(renderTag(undefined, ctx), 'aaaaaaaaaaaa');
  assert.equal(renderTag('{{.Name}}/{{.ImageName}}/{{ .ImageID }}/{{.DaemonName}}', ctx), 'web/busybox/bbbbbbbbbbbb/berth');
  assert.equal(renderTag('{{.FullID}}', ctx), 'a'.repeat(64));
  const t = new Date(2026, 0, 5, 7, 8, 9, 123);
  const base = { facility: 16, tag: 'web', hostname: 'h', pid: 42, local: false };
  assert.equal(formatSyslog({ ...base, format: 'rfc3164' }, { text: 'hi', stream: 'stdout', time: t }), '<134>Jan  5 07:08:09 h web[42]: hi');
  assert.match(formatSyslog({ ...base, format: 'rfc5424' }, { text: 'hi', stream: 'stderr', time: t }), /^<131>1 2026-01-05T07:08:09(Z|[+-]\d\d:\d\d) h web 42 web - hi$/);
  assert.match(formatSyslog({ ...base, format: 'rfc5424micro' }, { text: 'hi', stream: 'stdout', time: t }), /^<134>1 2026-01-05T07:08:09\.123000(Z|[+-]\d\d:\d\d) h web 42 web - hi$/);
  assert.equal(formatSyslog({ ...base, format: '', local: true }, { text: 'hi', stream: 'stdout', time: t }), '<134>Jan  5 07:08:09 web[42]: hi');
});
