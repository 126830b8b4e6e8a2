#!/bin/bash
# scripts/lib-cri.sh -- a private berthd --cri for scripts/critest.sh and bench/cri-bench.sh.
#
# cri_daemon_start: berthd on its own data root, exec root, sockets, bridge, nft table and CNI
# config (bridge "bcri<N>", subnet 10.<N>.0.0/16, host-local state in the work dir: never the
# host's /etc/cni/net.d or /var/lib/cni), registry-mirrors sending registry.k8s.io, gcr.io and
# docker.io to 127.0.0.1:5001 (the cri-tools local registry). Sets BERTH_CRI_SOCK, BERTH_CRI_WORK.
# cri_daemon_stop: removes pods, stops berthd, deletes what it made. Needs HERE (the repo) and
# CRI_TOOLS (cri-tools directory). BERTH_CRI_ARGS: more berthd flags (e.g. --debug).
cri_daemon_start() {
  N=${BERTH_CRI_NET:-$((90 + RANDOM % 60))}
  W=$(mktemp -d /var/tmp/berth-critest.XXXXXX)
  RUN=/run/berth-critest-$$
  BR=bcri$N
  mkdir -p "$W/net.d" "$W/cni" "$RUN"
  cat > "$W/net.d/10-berth-critest.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "berth-critest-$N",
  "plugins": [
    { "type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$W/cni", "ranges": [[{ "subnet": "10.$N.0.0/16" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ] }
JSON
  cat > "$W/daemon.json" <<JSON
{ "registry-mirrors": { "registry.k8s.io": ["http://127.0.0.1:5001"], "gcr.io": ["http://127.0.0.1:5001"], "docker.io": ["http://127.0.0.1:5001"] },
  "cri": { "socket": "unix://$RUN/cri.sock", "sandbox-image": "registry.k8s.io/pause:3.6", "cni-conf-dir": "$W/net.d", "cni-bin-dir": ["/usr/lib/cni", "/opt/cni/bin"] } }
JSON
  node "$HERE/dist/src/bin/berthd.js" --data-root "$W/root" --exec-root "$RUN" --host "unix://$RUN/berth.sock" \
    --pidfile "$RUN/berthd.pid" --config-file "$W/daemon.json" --cgroup-parent /berth-critest-$N \
    --bridge bcd$N --nft-table berth_critest_$N --bip 10.$((N + 1)).0.1/24 ${BERTH_CRI_ARGS:-} >"$W/berthd.log" 2>&1 &
  PID=$!
  cri_daemon_stop() {
    set +e
    "$CRI_TOOLS/bin/crictl" --runtime-endpoint "unix://$RUN/cri.sock" --timeout 300s rmp -fa >/dev/null 2>&1 || true
    for c in $(BERTH_HOST=unix://$RUN/berth.sock "$HERE/bin/berth" ps -aq 2>/dev/null); do
      BERTH_HOST=unix://$RUN/berth.sock "$HERE/bin/berth" rm -f "$c" >/dev/null 2>&1 || true
    done
    kill "$PID" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
    ip link del "$BR" 2>/dev/null || true
    ip link del bcd$N 2>/dev/null || true
    nft delete table ip berth_critest_$N 2>/dev/null || true
    nft delete table ip berth_critest_${N}_ports 2>/dev/null || true
    for d in /sys/fs/cgroup/*/berth-critest-$N; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
    [ "${KEEP_WORK:-0}" = 1 ] && echo "work dir kept: $W" || { umount -R "$W/root" 2>/dev/null || true; rm -rf "$W"; }
    rm -rf "$RUN"
  }
  for i in $(seq 100); do [ -S "$RUN/cri.sock" ] && break; kill -0 $PID 2>/dev/null || { cat "$W/berthd.log"; exit 1; }; sleep 0.2; done
  [ -S "$RUN/cri.sock" ] || { echo "berthd did not serve the CRI" >&2; tail -20 "$W/berthd.log"; exit 1; }
  BERTH_CRI_SOCK="$RUN/cri.sock"
  BERTH_CRI_WORK="$W"
}
