import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

// docker-py (Debian's python3-docker, run by Debian's own python) against a private berthd:
// an SDK speaks the API with its own habits (chunked bodies, its own defaults, its own error
// mapping), which the docker CLI tests do not cover.
const PYTHON = '/usr/bin/python3';

describe('docker-py against berthd', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon('dockerpy');
    await d.importBusybox();
  });
  after(async () => {
    await d?.destroy();
  });

  /** Runs a Python snippet with `client` bound to berthd; returns what it printed as JSON. */
  async function py(body: string): Promise<any> {
    const file = join(d.dir, `snippet-${Math.random().toString(36).slice(2)}.py`);
    const src = ['import json, sys, docker', `client = docker.DockerClient(base_url=${JSON.stringify(d.host)}, timeout=60)`, body].join('\n');
    await writeFile(file, src);
    return new Promise((resolve, reject) => {
      execFile(PYTHON, [file], { timeout: 120_000, env: { ...process.env, DOCKER_HOST: '' } }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`python failed: ${stderr || err.message}`));
        try {
          resolve(JSON.parse(stdout));
        } catch {
          reject(new Error(`not JSON: ${stdout} ${stderr}`));
        }
      });
    });
  }

  test('ping, version and images', async () => {
    const r = await py(`
v = client.version()
print(json.dumps({"ping": client.ping(), "api": v["ApiVersion"], "tags": [t for i in client.images.list() for t in i.tags]}))`);
    assert.equal(r.ping, true);
    assert.equal(r.api, '1.47');
    assert.ok(r.tags.includes('busybox:latest'), JSON.stringify(r.tags));
  });

  test('containers.run returns output, keeps exit codes as errors, and removes with remove=True', async () => {
    const r = await py(`
out = client.containers.run("busybox", ["sh", "-c", "echo hello from py"], remove=True)
err = None
try:
    client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True, stderr=True)
except docker.errors.ContainerError as e:
    err = {"code": e.exit_status, "stderr": e.stderr.decode()}
left = [c.name for c in client.containers.list(all=True)]
print(json.dumps({"out": out.decode(), "err": err, "left": left}))`);
    assert.equal(r.out, 'hello from py\n');
    assert.deepEqual(r.err, { code: 3, stderr: 'bad\n' });
    assert.deepEqual(r.left, []);
  });

  test('detached container: attrs, labels filter, logs, exec_run, top, stats, stop, wait, remove', async () => {
    const r = await py(`
c = client.containers.run("busybox", ["sh", "-c", "echo started; exec sleep 300"], detach=True, name="pyc",
                          environment={"A": "1"}, labels={"suite": "py"}, init=True)
import time
for _ in range(100):
    if b"started" in c.logs():
        break
    time.sleep(0.05)
c.reload()
res = {"status": c.status, "name": c.name, "env": "A=1" in c.attrs["Config"]["Env"], "init": c.attrs["HostConfig"]["Init"]}
res["filtered"] = [x.name for x in client.containers.list(filters={"label": "suite=py"})]
res["logs"] = c.logs().decode()
code, out = c.exec_run(["sh", "-c", "echo $A; exit 0"], environment={"A": "exec"})
res["exec"] = [code, out.decode()]
res["top"] = any("sleep" in " ".join(p) for p in c.top()["Processes"])
s = c.stats(stream=False)
res["stats_pids"] = s["pids_stats"].get("current")
c.stop(timeout=1)
res["wait"] = c.wait(timeout=30)["StatusCode"]
c.reload()
res["after"] = c.status
c.remove()
try:
    client.containers.get("pyc")
    res["gone"] = False
except docker.errors.NotFound:
    res["gone"] = True
print(json.dumps(res))`);
    assert.equal(r.status, 'running');
    assert.equal(r.name, 'pyc');
    assert.equal(r.env, true);
    assert.equal(r.init, true);
    assert.deepEqual(r.filtered, ['pyc']);
    assert.equal(r.logs, 'started\n');
    assert.deepEqual(r.exec, [0, 'exec\n']);
    assert.equal(r.top, true);
    assert.ok(r.stats_pids >= 1, `pids ${r.stats_pids}`);
    // sleep as PID 2 under the init ignores nothing: SIGTERM ends it, so the exit code is 143.
    assert.equal(r.wait, 143);
    assert.equal(r.after, 'exited');
    assert.equal(r.gone, true);
  });

  test('networks, volumes, published ports and archives through the SDK', async () => {
    const r = await py(`
import io, tarfile, socket, time
res = {}
net = client.networks.create("pynet", driver="bridge", labels={"k": "v"})
vol = client.volumes.create("pyvol", labels={"k": "v"})
web = client.containers.run("busybox", ["sh", "-c", "mkdir -p /w && echo sdk-web > /w/index.html && exec httpd -f -p 80 -h /w"],
                            detach=True, name="pyweb", network="pynet", ports={"80/tcp": ("127.0.0.1", None)},
                            volumes={"pyvol": {"bind": "/data", "mode": "rw"}})
web.reload()
port = int(web.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
res["ip_on_net"] = web.attrs["NetworkSettings"]["Networks"]["pynet"]["IPAddress"] != ""
body = b""
for _ in range(50):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        while True:
            b = s.recv(4096)
            if not b:
                break
            body += b
        s.close()
        if body:
            break
    except OSError:
        time.sleep(0.1)
res["http"] = body.decode().split("\\r\\n\\r\\n", 1)[-1]
out = client.containers.run("busybox", ["sh", "-c", "nc pyweb 80 </dev/null >/dev/null && echo reached"], network="pynet", remove=True)
res["by_name"] = out.decode()
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"from-sdk\\n"
    info = tarfile.TarInfo("note.txt"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
res["put"] = web.put_archive("/data", buf.getvalue())
stream, stat = web.get_archive("/data/note.txt")
raw = b"".join(stream)
with tarfile.open(fileobj=io.BytesIO(raw)) as t:
    res["got"] = t.extractfile("note.txt").read().decode()
res["stat_name"] = stat["name"]
web.remove(force=True)
again = client.containers.run("busybox", ["cat", "/data/note.txt"], volumes={"pyvol": {"bind": "/data"}}, remove=True, network_mode="none")
res["survives"] = again.decode()
res["net_labels"] = client.networks.get("pynet").attrs["Labels"]
net.remove()
vol.remove()
res["left"] = [n.name for n in client.networks.list(names=["pynet"])] + [v.name for v in client.volumes.list(filters={"name": "pyvol"})]
print(json.dumps(res))`);
    assert.equal(r.ip_on_net, true);
    assert.equal(r.http, 'sdk-web\n');
    assert.equal(r.by_name, 'reached\n');
    assert.equal(r.put, true);
    assert.equal(r.got, 'from-sdk\n');
    assert.equal(r.stat_name, 'note.txt');
    assert.equal(r.survives, 'from-sdk\n');
    assert.deepEqual(r.net_labels, { k: 'v' });
    assert.deepEqual(r.left, []);
  });

  test('errors map to docker-py exceptions', async () => {
    const r = await py(`
res = {}
try:
    client.containers.get("no-such-container")
except docker.errors.NotFound as e:
    res["nf"] = e.status_code
try:
    client.images.get("no-such-image:1")
except docker.errors.ImageNotFound as e:
    res["inf"] = e.status_code
c = client.containers.create("busybox", ["true"], name="dup")
try:
    client.containers.create("busybox", ["true"], name="dup")
except docker.errors.APIError as e:
    res["conflict"] = e.status_code
c.remove()
print(json.dumps(res))`);
    assert.deepEqual(r, { nf: 404, inf: 404, conflict: 409 });
  });
});
