import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GO_TYPE, parseTemplate, TemplateError } from './template.js';

function render(src: string, data: unknown): string {
  return parseTemplate(src).execute(data);
}

const inspect = {
  Id: 'abc123',
  Name: '/web',
  State: { Status: 'running', Running: true, Pid: 42, ExitCode: 0 },
  Config: { Env: ['PATH=/bin', 'A=b'], Labels: { 'com.example': 'yes' }, Cmd: ['sh', '-c', 'echo hi'] },
  Mounts: [],
};

describe('template', () => {
  it('renders fields, nested fields and missing keys like Go maps', () => {
    assert.equal(render('{{.Id}} {{.State.Status}} {{.State.Pid}}', inspect), 'abc123 running 42');
    assert.equal(render('{{.Nope}}', inspect), '<no value>');
    assert.equal(render('{{.Config.Env}}', inspect), '[PATH=/bin A=b]');
    assert.equal(render('{{.Config.Labels}}', inspect), 'map[com.example:yes]');
    assert.equal(render('{{.}}', 'x'), 'x');
  });

  it('json', () => {
    assert.equal(render('{{json .Config.Labels}}', inspect), '{"com.example":"yes"}');
    assert.equal(render('{{json .State}}', inspect), '{"Status":"running","Running":true,"Pid":42,"ExitCode":0}');
    assert.equal(render('{{json .Missing}}', inspect), 'null');
    assert.equal(render('{{json "a<b"}}', {}), '"a<b"');
  });

  it('range, if/else if/else, with, variables', () => {
    assert.equal(render('{{range .Config.Env}}[{{.}}]{{end}}', inspect), '[PATH=/bin][A=b]');
    assert.equal(render('{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}', inspect), '0=PATH=/bin;1=A=b;');
    assert.equal(render('{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}}{{end}}', inspect), 'com.example:yes');
    assert.equal(render('{{range .Mounts}}x{{else}}none{{end}}', inspect), 'none');
    assert.equal(render('{{if .State.Running}}up{{else}}down{{end}}', inspect), 'up');
    assert.equal(render('{{if eq .State.Status "exited"}}a{{else if eq .State.Status "running"}}b{{else}}c{{end}}', inspect), 'b');
    assert.equal(render('{{with .State}}{{.Status}}{{end}}', inspect), 'running');
    assert.equal(render('{{$x := .Name}}{{$x}} {{$.Id}}', inspect), '/web abc123');
    assert.equal(render('{{range .Config.Env}}{{$.Name}}{{end}}', inspect), '/web/web');
  });

  it('functions and pipelines', () => {
    assert.equal(render('{{index .Config.Labels "com.example"}}', inspect), 'yes');
    assert.equal(render('{{index .Config.Labels "missing"}}', inspect), '');
    assert.equal(render('{{index .Config.Env 1}}', inspect), 'A=b');
    assert.equal(render('{{join .Config.Cmd ","}}', inspect), 'sh,-c,echo hi');
    assert.equal(render('{{lower "AbC"}} {{upper "abc"}} {{title "hello woRld"}}', {}), 'abc ABC Hello WoRld');
    assert.equal(render('{{.State.Status | upper}}', inspect), 'RUNNING');
    assert.equal(render('{{.State.Status | printf "%s!"}}', inspect), 'running!');
    assert.equal(render('{{printf "%q %5d|%-4s|%v" "a" 3 "b" 1.5}}', {}), '"a"     3|b   |1.5');
    assert.equal(render('{{print "a" "b" 1 2 "c"}}', {}), 'ab1 2c');
    assert.equal(render('{{println "a" 1}}', {}), 'a 1\n');
    assert.equal(render('{{len .Config.Env}} {{split "a,b" ","}} {{join (split "a,b" ",") "-"}}', inspect), '2 [a b] a-b');
    assert.equal(render('{{pad "x" 1 2}}|{{truncate "abcdef" 3}}', {}), ' x  |abc');
    assert.equal(render('{{if and .State.Running (not .Nope)}}y{{end}}{{or .Nope "d"}}', inspect), 'yd');
    assert.equal(render('{{(index .Config.Env 0)}} {{`raw\\n`}} {{"q\\t"}}', inspect), 'PATH=/bin raw\\n q\t');
  });

  it('trims whitespace and skips comments', () => {
    assert.equal(render('a  {{- "b" -}}  c{{/* note */}}d {{- /* x */ -}} e', {}), 'abcde');
  });

  it('calls methods with arguments on Go-struct contexts', () => {
    const ctx = {
      [GO_TYPE]: '*formatter.ContainerContext',
      ID: 'abc',
      Label(k: string) {
        return k === 'a' ? '1' : '';
      },
    };
    assert.equal(render('{{.ID}} {{.Label "a"}}', ctx), 'abc 1');
    assert.throws(() => render('{{.Nope}}', ctx), /can't evaluate field Nope in type \*formatter.ContainerContext/);
  });

  it('reports malformed templates as Go does', () => {
    const cases: Array<[string, RegExp]> = [
      ['{{.Foo', /template: :1: unclosed action/],
      ['{{foo .}}', /function "foo" not defined/],
      ['{{if}}x{{end}}', /missing value for if/],
      ['{{end}}', /unexpected \{\{end\}\}/],
      ['{{if .A}}x', /unexpected EOF/],
      ['{{"abc}}', /unterminated quoted string/],
      ['{{range .X}}', /unexpected EOF/],
    ];
    for (const [src, re] of cases) {
      assert.throws(() => parseTemplate(src), (err: unknown) => err instanceof TemplateError && err.phase === 'parse' && re.test(err.message), src);
    }
  });

  it('reports execution errors with the action', () => {
    assert.throws(() => render('{{.A.B}}', { }), /executing "" at <\.A\.B>: nil pointer evaluating interface \{\}\.B/);
    assert.throws(() => render('{{index 3 1}}', {}), /can't index item of type int/);
  });
});
