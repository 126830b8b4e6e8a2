#!/usr/bin/env bash
# Sets berth up on a fresh Debian 12 machine and runs a container:
# packages, npm dependencies, build, berthd in the background, a busybox image, `berth run`.
# Running it again is harmless and fast: every step checks before it acts.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
ensure_root
ensure_packages "${BERTH_PACKAGES[@]}"
ensure_build "$ROOT"

DATA_ROOT=${BERTH_DATA_ROOT:-/var/lib/berth}
EXEC_ROOT=${BERTH_EXEC_ROOT:-/run/berth}
SOCK=$EXEC_ROOT/berth.sock
PIDFILE=$EXEC_ROOT/berthd.pid
LOG=${BERTH_LOG:-/var/log/berthd.log}
export BERTH_HOST=unix://$SOCK
BERTH="$ROOT/bin/berth"

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "berthd already running (pid $(cat "$PIDFILE"))"
else
  mkdir -p "$EXEC_ROOT" "$(dirname "$LOG")"
  nohup "$ROOT/bin/berthd" --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --host "unix://$SOCK" --pidfile "$PIDFILE" >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 100); do
    "$BERTH" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$BERTH" version >/dev/null || { echo "berthd did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
  echo "berthd started (pid $(cat "$PIDFILE")), log $LOG, socket $SOCK"
fi

if ! "$BERTH" image inspect busybox:latest >/dev/null 2>&1; then
  TAR=$DATA_ROOT-cache/busybox-rootfs.tar
  [ -f "$TAR" ] || "$ROOT/scripts/make-busybox-rootfs.sh" "$TAR" >/dev/null
  "$BERTH" import --change 'CMD ["sh"]' "$TAR" busybox:latest >/dev/null
  echo "imported busybox:latest from Debian's busybox-static"
fi

"$BERTH" run --rm busybox echo hello

cat <<MSG

berth is up. Try:
  export BERTH_HOST=$BERTH_HOST      # or DOCKER_HOST=$BERTH_HOST for the docker CLI
  $BERTH run -d --name web busybox sleep 300
  $BERTH ps
MSG
