#!/usr/bin/env bash
# Runs the whole test suite (unit, integration with a private berthd, compatibility with the
# real docker CLI), installing what it needs first. `.ci/run` runs exactly this.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
ensure_root
ensure_packages "${BERTH_PACKAGES[@]}"
# The compatibility tests drive berthd with the real docker CLI; Debian's docker.io provides one
# when the machine has none.
command -v docker >/dev/null || ensure_packages docker.io
# An SDK too: docker-py as Debian packages it, run by Debian's python (test/compat/docker-py).
ensure_packages python3 python3-docker
ensure_moby_seccomp_profile
# The desktop dashboard's end-to-end tests drive Debian's chromium with puppeteer-core (issue 19).
ensure_packages chromium
ensure_build "$ROOT"
cd "$ROOT"
# The import directions of docs/ARCHITECTURE.md (.dependency-cruiser.cjs): a cycle or a forbidden
# import fails the run before any test starts.
npm run --silent lint:deps
exec node --test --test-concurrency=1 dist/src dist/test/integration dist/test/security dist/test/compat "$@"
