#!/usr/bin/env bash
# One export with nothing but curl, jq-free, each call signed by the Node client (clients/node/cli.mjs sign):
# presign → PUT → POST /export → poll → download. Needs EXPORT_API_URL and EXPORT_SIGNING_SECRET
# (`eval "$(make -s dev-env)"`) and the sample media (`examples/make-media.sh`).
#   examples/curl-export.sh out.mp4
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cli="${here}/../clients/node/cli.mjs"
out="${1:-out.mp4}"
work="$(mktemp -d)"; trap 'rm -rf "${work}"' EXIT
json() { node -e "const v=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log($1)"; }

call() {  # METHOD PATH [body-file]
  local sig; mapfile -t sig < <(node "${cli}" sign "$@")
  if [ -n "${3:-}" ]; then
    curl -sS -X "$1" "${sig[@]}" -H 'content-type: application/json' --data-binary @"$3" "${EXPORT_API_URL}$2"
  else
    curl -sS -X "$1" "${sig[@]}" "${EXPORT_API_URL}$2"
  fi
}

# 1. presign the four files
cat > "${work}/presign.json" <<JSON
{"assets": [
  {"src": "intro.mp4", "contentType": "video/mp4", "ext": ".mp4"},
  {"src": "bars.mp4", "contentType": "video/mp4", "ext": ".mp4"},
  {"src": "logo.png", "contentType": "image/png", "ext": ".png"},
  {"src": "music.mp3", "contentType": "audio/mpeg", "ext": ".mp3"}]}
JSON
call POST /export/presign "${work}/presign.json" > "${work}/uploads.json"

# 2. upload each file to its presigned URL, and put the issued keys into the request
node -e '
  const fs = require("fs");
  const uploads = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).uploads;
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  request.assets = uploads.map((u) => ({ src: u.src, s3Key: u.s3Key }));
  fs.writeFileSync(process.argv[3], JSON.stringify(request));
  for (const u of uploads) console.log([u.src, u.uploadUrl, u.headers["Content-Type"]].join("\t"));
' "${work}/uploads.json" "${here}/request.json" "${work}/request.json" |
while IFS=$'\t' read -r src url type; do
  curl -sS --fail -X PUT -H "Content-Type: ${type}" --data-binary @"${here}/media/${src}" "${url}" >/dev/null
  echo "uploaded ${src}"
done

# 3. start the export
job="$(call POST /export "${work}/request.json" | json 'v.jobId')"
echo "job ${job}"

# 4. poll until it is done, then download
while :; do
  call GET "/export/${job}" > "${work}/status.json"
  status="$(json 'v.status' < "${work}/status.json")"
  echo "  ${status} $(json 'v.progress ?? ""' < "${work}/status.json")"
  case "${status}" in
    SUCCEEDED) curl -sS --fail -o "${out}" "$(json 'v.downloadUrl' < "${work}/status.json")"; echo "saved ${out}"; exit 0 ;;
    FAILED) cat "${work}/status.json"; exit 1 ;;
  esac
  sleep 1
done
