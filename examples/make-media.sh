#!/usr/bin/env bash
# Makes the sample media that examples/*.json and examples/timelines/*.json use, with ffmpeg's test sources, into examples/media/.
set -euo pipefail
out="${1:-$(dirname "$0")/media}"   # or the folder given as the first argument
mkdir -p "${out}"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
ff -f lavfi -i "testsrc2=s=1280x720:r=30:d=6" -f lavfi -i "sine=frequency=440:duration=6" \
   -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest "${out}/intro.mp4"
ff -f lavfi -i "smptebars=s=640x360:r=25:d=6" -f lavfi -i "sine=frequency=660:duration=6" \
   -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest "${out}/bars.mp4"
# a 4:3 screen recording without sound, as phones and screen recorders make them (examples/melies-request.json)
ff -f lavfi -i "testsrc=s=640x480:r=30:d=4" -c:v libx264 -preset veryfast -pix_fmt yuv420p "${out}/phone.mp4"
ff -f lavfi -i "color=c=orange:s=256x256" -frames:v 1 "${out}/logo.png"
ff -f lavfi -i "sine=frequency=220:duration=10" -c:a libmp3lame -b:a 128k "${out}/music.mp3"
# captions for examples/timelines/captions.json: SubRip as editors export it (CRLF, markup, several scripts)
printf '%s\r\n' 1 "00:00:01,000 --> 00:00:03,000" "<i>Every script</i> draws as glyphs, and a caption longer than the width wraps" "" \
    2 "00:00:03,500 --> 00:00:06,000" "你好 · Привет · مرحبا · שלום · नमस्ते" > "${out}/captions.srt"
echo "sample media in ${out}: intro.mp4 bars.mp4 phone.mp4 logo.png music.mp3 captions.srt"
