# Shared by the image scripts (sourced): the worker image's name, the engine, and running a command in it.
# shellcheck shell=bash

# The worker image `make image` builds and the local stack runs.
WORKER_IMAGE_REF="localhost/video-export-worker:dev"
IMAGE_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# docker where its engine answers, else podman (CONTAINER_ENGINE overrides): scripts/container_engine.sh.
# shellcheck source=scripts/container_engine.sh
source "${IMAGE_SCRIPTS}/../container_engine.sh"
image_engine() {
  if ! choose_container_engine; then
    echo "error: no container engine: ${ENGINE_REASON} (make system-deps installs podman)" >&2
    return 1
  fi
  echo "${ENGINE}"
}

engine_has_image() { # <engine> <ref>
  "$1" image inspect "$2" >/dev/null 2>&1
}

# The image's user and working directory on the first line, then its Env as NAME=VALUE lines.
image_config() { # <engine> <ref>
  "$1" image inspect --format '{{.Config.User}} {{.Config.WorkingDir}}{{println}}{{range .Config.Env}}{{println .}}{{end}}' "$2" \
    | sed '/^$/d'
}

# Runs CMD in the image as its user, with its Env and working directory, as `docker run` would:
#   image_run <engine> <ref> [--env NAME=VALUE]... [--tmp DIR] [--bind SRC:DST[:ro]]... -- CMD...
# With Docker, `docker run --read-only` and volumes; with podman, scripts/image/enter.sh.
image_run() {
  local engine="$1" ref="$2"; shift 2
  local extra_env=() enter_args=() docker_args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --env) extra_env+=("$2"); docker_args+=(--env "$2"); shift 2 ;;
      --tmp) enter_args+=("$1" "$2"); docker_args+=(--volume "$2:/tmp"); shift 2 ;;
      --bind) enter_args+=("$1" "$2"); docker_args+=(--volume "$2"); shift 2 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  if [ "${engine}" = docker ]; then
    docker run --rm --read-only --network host "${docker_args[@]}" --entrypoint "$1" "${ref}" "${@:2}"
    return
  fi
  local root user workdir env=() line
  root="$(podman image mount "${ref}")"
  { read -r user workdir; while IFS= read -r line; do env+=("${line}"); done; } < <(image_config podman "${ref}")
  env -i "${env[@]}" "${extra_env[@]}" "${IMAGE_SCRIPTS}/enter.sh" "${root}" --user "${user}" \
    --workdir "${workdir:-/}" "${enter_args[@]}" -- "$@"
}
