#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright's own browser download cannot work offline).
# Needs root or sudo; a machine that has /usr/bin/chromium already skips this.
set -euo pipefail
if command -v chromium > /dev/null; then
    exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "oddsight: installing Debian's chromium for the browser tests ..." >&2
$SUDO apt-get update -q > /dev/null || echo "oddsight: apt-get update failed; trying the install anyway" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium > /dev/null
command -v chromium > /dev/null
