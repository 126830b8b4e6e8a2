# Shared by quickstart.sh and test.sh: system packages and the build, idempotent and quiet when done.
set -euo pipefail

BERTH_PACKAGES=(crun runc conmon nftables iproute2 busybox-static catatonit attr file tar skopeo docker-registry apache2-utils openssl docker-compose golang-github-containers-common gnupg python3-nacl python3-cryptography rootlesskit slirp4netns uidmap fuse-overlayfs)

ensure_root() {
  if [ "$(id -u)" != 0 ]; then echo "berth: run this as root (containers need namespaces, mounts and cgroups)" >&2; exit 1; fi
}

# apt-get install only what is missing, so a second run costs nothing.
ensure_packages() {
  local need=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  if ((${#need[@]})); then
    echo "berth: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
  fi
}

# npm ci when the lock file changed since the last install; `npm run build` when any source is newer than dist.
ensure_build() {
  local root=$1
  cd "$root"
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund >/dev/null
  fi
  if [ ! -f dist/.built ] || [ -n "$(find src test bench tsconfig.json package.json -newer dist/.built -print -quit 2>/dev/null)" ]; then
    npm run build --silent  # tsc, then the CLI start-up snapshot (scripts/build-cli.mjs)
    touch dist/.built
  fi
}

# Docker's default seccomp profile (moby's profiles/seccomp/default.json), for the test that
# compares berth's profile with it (test/security/seccomp-weaker-than-docker). Debian ships it in
# golang-github-docker-docker-dev, whose dependencies are hundreds of Go source packages, so the
# .deb is downloaded and only that file extracted; nothing is installed.
MOBY_SECCOMP_PROFILE=/var/cache/berth-test/moby-seccomp-default.json
ensure_moby_seccomp_profile() {
  [ -s "$MOBY_SECCOMP_PROFILE" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download golang-github-docker-docker-dev >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download golang-github-docker-docker-dev >/dev/null; }; } \
    && dpkg-deb --fsys-tarfile golang-github-docker-docker-dev_*.deb | tar -x ./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json)
  mkdir -p "$(dirname "$MOBY_SECCOMP_PROFILE")"
  cp "$tmp/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json" "$MOBY_SECCOMP_PROFILE"
  rm -rf "$tmp"
}
