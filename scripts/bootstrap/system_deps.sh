#!/usr/bin/env bash
# Installs the few system packages the kit needs from Debian: ffmpeg (render and tests),
# fonts (text and captions are drawn by libass through fontconfig: Noto for every script, Noto CJK,
# Symbola for emoji; the worker image has the same, functions/worker/image/apt-packages), a JDK
# (DynamoDB Local inside LocalStack), Node.js (the Node client, npm,
# the browser demo), Chromium (the browser test drives it headless; no browser is downloaded at run time),
# and podman and mmdebstrap (the worker image).
# Does nothing when everything is already there, so it is cheap to call from every make target.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v fc-cache >/dev/null 2>&1 || missing+=(fontconfig)
[ -f /usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf ] || missing+=(fonts-noto-core)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
[ -f /usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf ] || missing+=(fonts-symbola)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
# The worker image: podman builds it where no Docker engine runs; mmdebstrap makes its Debian base where
# no image registry answers (scripts/image/build.sh).
command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 || command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing system packages: ${missing[*]} (install them, e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "==> installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
