#!/usr/bin/env bash
# Builds a busybox root filesystem tarball from Debian's busybox-static, for `berth import`
# (and `docker import`): one static binary, its applets as hardlinks, /etc/passwd and
# /etc/group with root and nobody, /tmp and /var/tmp (1777), /root (0700).
#
# Deterministic: sorted names, fixed mtime, owner 0:0 (numeric), fixed modes, GNU format (no
# pax atime/ctime). The same busybox-static version gives the same bytes, hence the same diffID.
# Idempotent: it writes to a temp file and renames it over OUT_TAR.
#
# Usage: scripts/make-busybox-rootfs.sh OUT_TAR
set -euo pipefail

out=${1:?usage: $0 OUT_TAR}
mtime='2024-01-01 00:00:00Z'

bb=$(dpkg -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1 || true)
if [ -z "$bb" ] || [ ! -x "$bb" ]; then
  echo "installing busybox-static" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: busybox-static is not installed and installing it needs root (apt-get install busybox-static)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
  bb=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
fi
if ! "$bb" true 2>/dev/null; then
  echo "error: $bb does not run" >&2
  exit 1
fi

umask 022
stage=$(mktemp -d)
trap 'rm -rf "$stage" "${tmp_out:-}"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,home,root,tmp,var/tmp,var/log,run}
chmod 1777 "$stage/tmp" "$stage/var/tmp"
chmod 0700 "$stage/root"
install -m 0755 "$bb" "$stage/bin/busybox"

# Applets as hardlinks to the one binary, at the paths busybox itself lists (bin/sh, usr/bin/env, …).
"$bb" --list-full | LC_ALL=C sort | while read -r applet; do
  [ "$applet" = "bin/busybox" ] && continue
  mkdir -p "$stage/$(dirname "$applet")"
  ln -f "$stage/bin/busybox" "$stage/$applet"
done

cat >"$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat >"$stage/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
chmod 0644 "$stage/etc/passwd" "$stage/etc/group"

mkdir -p "$(dirname "$out")"
tmp_out=$(mktemp "$(dirname "$out")/.busybox-rootfs.XXXXXX")
(
  cd "$stage"
  # Hardlinks stay hardlinks (GNU tar's default), so the archive holds the binary once.
  # shellcheck disable=SC2046
  tar --create --file="$tmp_out" --format=gnu --sort=name --mtime="$mtime" \
    --owner=0 --group=0 --numeric-owner $(LC_ALL=C ls -A)
)
chmod 0644 "$tmp_out"
mv -f "$tmp_out" "$out"
tmp_out=
echo "$out: $(stat -c %s "$out") bytes, sha256:$(sha256sum "$out" | cut -d' ' -f1)" >&2
