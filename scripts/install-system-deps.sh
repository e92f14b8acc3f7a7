#!/usr/bin/env bash
# Debian packages the test fixtures, the face detector, the alert-rule checks and the browser tests need. Best effort: without root or
# apt the suite still runs and names the tests it skipped for want of them.
set -u
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -d /usr/share/opencv4/haarcascades ] || need+=(opencv-data)
# fpcalc fingerprints audio for the audio near-duplicate rule (inference/audio_fingerprint.py).
command -v fpcalc >/dev/null 2>&1 || need+=(libchromaprint-tools)
# promtool checks the alert rules and their unit tests (deploy/prometheus).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The explorer's browser tests drive Debian's Chromium (Playwright never downloads a browser here).
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: cannot install ${need[*]} (not root or no apt); dependent tests will skip" >&2
  exit 0
fi
echo "install-system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "install-system-deps: apt-get install ${need[*]} failed; dependent tests will skip" >&2
exit 0
