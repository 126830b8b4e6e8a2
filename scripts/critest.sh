#!/bin/bash
# scripts/critest.sh -- the CRI validation suite (critest v1.26.1) against a private berthd --cri.
#
# Starts berthd on its own data root, exec root, sockets, bridge, nft table and CNI config
# (bridge "bcri<N>", subnet 10.<N>.0.0/16, host-local state in the work dir: never the host's
# /etc/cni/net.d or /var/lib/cni), with registry-mirrors sending registry.k8s.io, gcr.io and
# docker.io to the local registry the cri-tools script runs on 127.0.0.1:5001; then runs
# ../shared/cri-tools/setup-and-run.sh against it and removes everything it made.
#
#   scripts/critest.sh                                   # the full suite
#   CRITEST_ARGS='-ginkgo.focus=Streaming' scripts/critest.sh
#   CRI_TOOLS=/path/to/cri-tools scripts/critest.sh      # default ../shared/cri-tools
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CRI_TOOLS=${CRI_TOOLS:-$(cd "$HERE/../shared/cri-tools" 2>/dev/null && pwd || cd /work/shared/cri-tools 2>/dev/null && pwd || true)}
[ -x "$CRI_TOOLS/setup-and-run.sh" ] || { echo "critest.sh: cri-tools not found (set CRI_TOOLS)" >&2; exit 2; }
. "$HERE/scripts/lib-cri.sh"
cri_daemon_start
trap cri_daemon_stop EXIT
CRI_WORK=${CRI_WORK:-/var/tmp/cri-tools} CRI_ENDPOINT="unix://$RUN/cri.sock" CRITEST_ARGS="${CRITEST_ARGS:-}" "$CRI_TOOLS/setup-and-run.sh" 2>&1 | tee "$W/critest.out"
cp "$W/berthd.log" "${CRI_WORK:-/var/tmp/cri-tools}/logs/berthd-critest.log" 2>/dev/null || true
grep -q '^Ran ' "$W/critest.out"
