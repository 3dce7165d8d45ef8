#!/usr/bin/env bash
# Writes .localstack/image-handlers.json: how the local executor runs container-image functions (the
# worker). Called by up.sh when it starts LocalStack; the executor reads the file at each cold start.
#   LOCAL_LAMBDA_IMAGES=built   (default) the built image, localhost/video-export-worker:dev
#                               (WORKER_IMAGE_REF): its root file system (`podman image mount`), user,
#                               Env, WORKDIR and entry point (awslambdaric). Built by `make image`
#                               first when podman does not have it.
#   LOCAL_LAMBDA_IMAGES=source  the repository's source with the project's python and the host's ffmpeg:
#                               an edited file reaches the next cold start, no image build (fast render
#                               iteration; what it does not exercise: scripts/local_stack/README.md).
source "$(dirname "$0")/lib.sh"

source "${REPO_ROOT}/scripts/image/lib.sh"
WORKER_IMAGE_REF="${IMAGE_REF:-${WORKER_IMAGE_REF}}"
# The worker's code and what goes into its image: newer than the image means the image is stale.
WORKER_IMAGE_INPUTS=(functions/worker functions/shared render uv.lock)

write_source_map() {
  cat <<JSON
{
  "video-export-worker": {
    "pythonpath": ["${REPO_ROOT}/functions/worker", "${REPO_ROOT}/functions/shared", "${REPO_ROOT}"],
    "handler": "export_worker.handler.lambda_handler"
  }
}
JSON
}

ensure_image() {
  command -v podman >/dev/null \
    || die "LOCAL_LAMBDA_IMAGES=built runs the worker image from podman's storage, and podman is missing (make system-deps); LOCAL_LAMBDA_IMAGES=source runs the worker from the repository instead"
  if ! podman image exists "${WORKER_IMAGE_REF}"; then
    log "no worker image ${WORKER_IMAGE_REF}: building it (make image)"
    CONTAINER_ENGINE=podman make -C "${REPO_ROOT}" --no-print-directory image
    podman image exists "${WORKER_IMAGE_REF}" || die "make image did not produce ${WORKER_IMAGE_REF}"
  fi
  local created newer
  created="$(podman image inspect --format '{{.Created.Unix}}' "${WORKER_IMAGE_REF}")"
  newer="$(cd "${REPO_ROOT}" && find "${WORKER_IMAGE_INPUTS[@]}" -newermt "@${created}" -type f \
    \( -name '*.py' -o -name '*.json' -o -name '*.txt' -o -name 'uv.lock' -o -name 'Dockerfile' \) 2>/dev/null | head -n1)"
  if [ -n "${newer}" ]; then
    log "warning: ${newer} is newer than the image ${WORKER_IMAGE_REF}: the worker runs the image's older code (make image, then make dev-down && make dev-up)"
  fi
}

write_built_map() {
  ensure_image
  local rootfs config image_id enter
  # A read-only view that stays mounted (podman counts mounts; other checkouts may share the image).
  rootfs="$(podman image mount "${WORKER_IMAGE_REF}")"
  image_id="$(podman image inspect --format '{{.Id}}' "${WORKER_IMAGE_REF}")"
  config="$(podman image inspect --format '{{json .Config}}' "${WORKER_IMAGE_REF}")"
  # The one definition of "run a command in the image" (make image-test runs the image through it too).
  enter="${REPO_ROOT}/scripts/image/enter.sh"
  log "the worker runs in the image ${WORKER_IMAGE_REF} (${image_id:0:12}, ${rootfs})"
  "${PROJECT_PY}" - "${WORKER_IMAGE_REF}" "${image_id}" "${rootfs}" "${config}" "${enter}" <<'PY'
import json
import sys

ref, image_id, rootfs, config, enter = sys.argv[1:]
entry = {"image": ref, "imageId": image_id, "rootfs": rootfs, "config": json.loads(config), "enter": enter}
json.dump({"video-export-worker": entry}, sys.stdout, indent=2)
print()
PY
}

mkdir -p "${LS_DIR}"
case "${LOCAL_LAMBDA_IMAGES:-built}" in
  built) write_built_map >"${LS_IMAGE_HANDLERS}.tmp" ;;
  source)
    log "the worker runs from the repository's source (LOCAL_LAMBDA_IMAGES=source), not from its image"
    write_source_map >"${LS_IMAGE_HANDLERS}.tmp" ;;
  *) die "LOCAL_LAMBDA_IMAGES must be built or source, not '${LOCAL_LAMBDA_IMAGES}'" ;;
esac
mv "${LS_IMAGE_HANDLERS}.tmp" "${LS_IMAGE_HANDLERS}"
