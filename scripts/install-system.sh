#!/usr/bin/env bash
# The Debian packages the tests start as real servers or drive: chromium (browser tests; Playwright's own
# browser download cannot work offline), Mosquitto (MQTT alerts), GStreamer's RTSP server with Debian's
# python3-gi (a real RTSP camera), and GStreamer's plugins for H.264 over RTP.
# Needs root or sudo; packages already present are skipped by apt-get.
set -euo pipefail
PACKAGES=(chromium mosquitto python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "oddsight: installing Debian packages for the tests: ${missing[*]} ..." >&2
$SUDO apt-get update -q > /dev/null || echo "oddsight: apt-get update failed; trying the install anyway" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" > /dev/null
