#!/usr/bin/env bash
# `make image`: builds the worker image (functions/worker/Dockerfile) and tags it IMAGE_REF
# (default localhost/video-export-worker:dev). Prints the reference, ffmpeg's version, the size and the time.
#
# 1. The engine: Docker where its engine answers, else podman (`--isolation=chroot`: no daemon and no
#    privileges beyond root's file system), as scripts/container_engine.sh chooses. It says which and why.
# 2. The wheelhouse (build/wheelhouse): the worker's locked wheels, downloaded on the host with their
#    hashes checked, because pip inside a build may not reach an index. The image installs offline.
# 3. The base: the Dockerfile's BASE_IMAGE (debian:trixie-slim) where the engine has it or can pull it;
#    where no registry answers, the same Debian suite made from Debian's archive by mmdebstrap (minbase,
#    with slim's documentation excludes), imported as localhost/debian:<suite>-slim and passed as BASE_IMAGE.
# 4. The build, with the engine's layer cache; then the installed Debian versions of ffmpeg, python3 and
#    the fonts become labels of the image.
#
# Settings: IMAGE_REF, CONTAINER_ENGINE (docker|podman).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/image/lib.sh

started=$(date +%s)
ref="${IMAGE_REF:-${WORKER_IMAGE_REF}}"
choose_container_engine || { echo "error: no container engine: ${ENGINE_REASON}" >&2; exit 1; }
engine="${ENGINE}"
echo "==> building ${ref} with ${engine} (${ENGINE_REASON})"

# ---------------------------------------------------------------- wheelhouse
python_version="$(cat .python-version)"
requirements=functions/worker/requirements.txt
wheelhouse=build/wheelhouse
stamp="${wheelhouse}/.complete-$(cat "${requirements}" .python-version | sha256sum | cut -c1-16)"
if [ ! -f "${stamp}" ]; then
  echo "==> wheelhouse for Python ${python_version} from ${requirements}"
  rm -rf "${wheelhouse}"
  mkdir -p "${wheelhouse}"
  .venv/bin/python -m pip download --quiet --disable-pip-version-check --require-hashes \
    --only-binary=:all: --implementation cp --python-version "${python_version}" \
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
    -r "${requirements}" -d "${wheelhouse}" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  touch "${stamp}"
fi

# ---------------------------------------------------------------- base
base_arg=()
default_base="$(sed -n 's/^ARG BASE_IMAGE=//p' functions/worker/Dockerfile)"
suite="$(sed -n 's/^ARG DEBIAN_SUITE=//p' functions/worker/Dockerfile)"
if ! engine_has_image "${engine}" "${default_base}" && ! "${engine}" pull -q "${default_base}" >/dev/null 2>&1; then
  local_base="localhost/debian:${suite}-slim"
  if ! engine_has_image "${engine}" "${local_base}"; then
    echo "==> no registry answers for ${default_base}: making ${local_base} from Debian's archive (mmdebstrap)"
    command -v mmdebstrap >/dev/null || { echo "error: mmdebstrap is missing (make system-deps)" >&2; exit 1; }
    tarball="$(mktemp --suffix=.tar)"
    trap 'rm -f "${tarball}"' EXIT
    mmdebstrap --quiet --variant=minbase --include=ca-certificates \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      "${suite}" "${tarball}" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    "${engine}" import --change 'CMD ["bash"]' "${tarball}" "${local_base}" >/dev/null
  fi
  base_arg=(--build-arg "BASE_IMAGE=${local_base}")
fi

# ---------------------------------------------------------------- build
mapfile -t build < <(image_build_command "${engine}")
[ "${engine}" = podman ] && build+=(--layers)
"${build[@]}" --quiet "${base_arg[@]}" -f functions/worker/Dockerfile -t "${ref}" . >/dev/null

# ---------------------------------------------------------------- labels: the Debian versions inside
labels=()
while read -r package version; do
  labels+=(--label "org.debian.package.${package}=${version}")
done < <(image_run "${engine}" "${ref}" dpkg-query -W -f '${Package} ${Version}\n' $(grep -v '^#' functions/worker/image/apt-packages))
printf 'FROM %s\n' "${ref}" | "${build[@]}" --quiet "${labels[@]}" -t "${ref}" -f - "$(mktemp -d)" >/dev/null

ffmpeg_version="$(image_run "${engine}" "${ref}" ffmpeg -hide_banner -version | head -n 1)"
size_mb="$(( $("${engine}" image inspect --format '{{.Size}}' "${ref}") / 1000000 ))"
echo "image:   ${ref} (${engine})"
echo "ffmpeg:  ${ffmpeg_version}"
echo "python:  $(image_run "${engine}" "${ref}" python3 --version)"
echo "size:    ${size_mb} MB uncompressed"
echo "built:   in $(( $(date +%s) - started )) s"
