#!/bin/bash
# bench/cri-bench.sh -- pod start latency through crictl: berth --cri against containerd 1.6
# (the cri-tools baseline runtime), in the same run, on the same machine.
#
#   one pod:  `crictl runp` + `crictl create` + `crictl start` of one busybox container, BENCH_N
#             times (default 10, after one warm-up) per runtime, the two taking turns; median
#             and range, and crictl's own share (3 x a `crictl version` run) beside it;
#   20 pods:  BENCH_PODS (default 20) such pods started at once, wall time.
# Pods are removed (untimed) between rounds. Needs root, ../shared/cri-tools (CRI_TOOLS), and
# leaves nothing running: containerd and the registry are stopped, berthd's state removed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CRI_TOOLS=${CRI_TOOLS:-$(cd "$HERE/../shared/cri-tools" 2>/dev/null && pwd || cd /work/shared/cri-tools 2>/dev/null && pwd || true)}
[ -x "$CRI_TOOLS/setup-and-run.sh" ] || { echo "cri-bench.sh: cri-tools not found (set CRI_TOOLS)" >&2; exit 2; }
RUNS=${BENCH_N:-10}
P=${BENCH_PODS:-20}
IMG=registry.k8s.io/e2e-test-images/busybox:1.29-2
export CRI_WORK=${CRI_WORK:-/var/tmp/cri-tools}
. "$HERE/scripts/lib-cri.sh"

SKIP_RUN=1 "$CRI_TOOLS/setup-and-run.sh" >"$CRI_WORK/logs/bench-setup.log" 2>&1
cri_daemon_start
trap 'set +e; cri_daemon_stop; "$CRI_TOOLS/setup-and-run.sh" stop >/dev/null 2>&1' EXIT
B="$BERTH_CRI_WORK/bench"
mkdir -p "$B"
declare -A EP=([berth]="unix://$BERTH_CRI_SOCK" [containerd]="unix:///run/cri-containerd/containerd.sock")
cat > "$B/ctr.json" <<JSON
{ "metadata": { "name": "c" }, "image": { "image": "$IMG" }, "command": ["sleep", "3600"], "linux": {} }
JSON
pod_json() { printf '{ "metadata": { "name": "p%s", "namespace": "bench", "uid": "u%s", "attempt": 0 }, "linux": {} }\n' "$1" "$1" > "$B/pod-$1.json"; }
start_pod() {  # endpoint index
  local c="$CRI_TOOLS/bin/crictl --runtime-endpoint $1 --image-endpoint $1 --timeout 120s" id cid
  id=$($c runp "$B/pod-$2.json")
  cid=$($c create "$id" "$B/ctr.json" "$B/pod-$2.json")
  $c start "$cid" >/dev/null
}
clean() { "$CRI_TOOLS/bin/crictl" --runtime-endpoint "$1" --timeout 300s rmp -fa >/dev/null || echo "cri-bench: removing the pods of $1 failed" >&2; }
now() { date +%s%N; }
for i in $(seq 0 $((P + RUNS))); do pod_json $i; done
for r in berth containerd; do
  echo "cri-bench: warming up $r" >&2
  "$CRI_TOOLS/bin/crictl" --runtime-endpoint "${EP[$r]}" --image-endpoint "${EP[$r]}" pull "$IMG" >/dev/null
  start_pod "${EP[$r]}" 0; clean "${EP[$r]}"   # warm-up: the sandbox image is pulled here
done
declare -A MED ALL FLOOR
median() { local a; a=($(printf '%s\n' "$@" | sort -n)); echo "${a[$(( $# / 2 ))]}"; }
# Single pods: the runtimes take turns (berth, containerd, berth, ...), so a change in the shared
# machine's load falls on both alike.
declare -A T
for i in $(seq 1 $RUNS); do
  for r in berth containerd; do
    [ "$i" = 1 ] && echo "cri-bench: $RUNS single pods on berth and containerd, in turn" >&2
    t0=$(now); start_pod "${EP[$r]}" $i; t1=$(now)
    T[$r]+="$(( (t1 - t0) / 1000000 )) "
    clean "${EP[$r]}"
  done
done
for r in berth containerd; do
  sorted=($(printf '%s\n' ${T[$r]} | sort -n))
  MED[$r]=${sorted[$((RUNS / 2))]}
  ALL[$r]="${sorted[0]}-${sorted[$((RUNS - 1))]}"
  # crictl's own cost, the same for both: a process start, a connection and a Version call
  # (each of runp, create and start is one such crictl run plus the call timed).
  f=()
  for i in $(seq 1 $RUNS); do t0=$(now); "$CRI_TOOLS/bin/crictl" --runtime-endpoint "${EP[$r]}" version >/dev/null; t1=$(now); f+=($(( (t1 - t0) / 1000000 ))); done
  FLOOR[$r]=$(median "${f[@]}")
done
for r in berth containerd; do
  echo "cri-bench: $P pods at once on $r" >&2
  t0=$(now)
  pids=()
  for i in $(seq 1 $P); do start_pod "${EP[$r]}" $((RUNS + i)) & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || { echo "cri-bench: a pod failed to start on $r" >&2; exit 1; }; done
  t1=$(now)
  eval "PAR_$r=$(( (t1 - t0) / 1000000 ))"
  clean "${EP[$r]}"
done
echo "pod start (runp + create + start, one busybox container), median of $RUNS on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg):"
printf '  %-11s %6s ms  (%s)\n' berth "${MED[berth]}" "${ALL[berth]}" containerd "${MED[containerd]}" "${ALL[containerd]}"
echo "  berth / containerd: $(python3 -c "print(f'{${MED[berth]}/${MED[containerd]}:.2f}')")"
echo "  crictl's own share (3 x \`crictl version\`, median): berth $((3 * FLOOR[berth])) ms, containerd $((3 * FLOOR[containerd])) ms"
echo "  runtime's share (median minus that): berth $((MED[berth] - 3 * FLOOR[berth])) ms, containerd $((MED[containerd] - 3 * FLOOR[containerd])) ms"
echo "$P pods at once (wall):"
printf '  %-11s %6s ms\n' berth "$PAR_berth" containerd "$PAR_containerd"
echo "  berth / containerd: $(python3 -c "print(f'{$PAR_berth/$PAR_containerd:.2f}')")"
