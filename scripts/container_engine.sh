#!/usr/bin/env bash
# Which container engine builds and pushes the worker image: docker when its engine answers, else podman
# (which needs no daemon). Used by scripts/image/build.sh (`make image`, `make deploy ENV=prod`); run it to
# see the choice on this machine:
#   scripts/container_engine.sh          prints docker or podman, the reason on stderr; status 1: neither
# Source it for the functions:
#   choose_container_engine              sets ENGINE (docker|podman) and ENGINE_REASON; status 1: neither
#   image_build_command <engine>         the build command up to its Dockerfile, tag and context (which
#                                        scripts/image/build.sh adds), one argument per line
# Settings: CONTAINER_ENGINE=docker|podman forces one (it must still work);
#           PODMAN_ISOLATION (default chroot: builds where podman cannot start OCI containers, as here).

choose_container_engine() {
  local forced="${CONTAINER_ENGINE:-}" docker_note="the docker CLI is not installed"
  ENGINE=""
  case "${forced}" in
    "" | docker | podman) ;;
    *) ENGINE_REASON="CONTAINER_ENGINE must be docker or podman, not '${forced}'"; return 1 ;;
  esac
  if [ "${forced}" != podman ] && command -v docker >/dev/null 2>&1; then
    if docker info >/dev/null 2>&1; then
      ENGINE=docker ENGINE_REASON="its engine answers \`docker info\`"
      return 0
    fi
    docker_note="the docker CLI is installed but no engine answers \`docker info\`"
  fi
  if [ "${forced}" = docker ]; then
    ENGINE_REASON="CONTAINER_ENGINE=docker, but ${docker_note}"
    return 1
  fi
  if command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then
    ENGINE=podman
    if [ "${forced}" = podman ]; then ENGINE_REASON="CONTAINER_ENGINE=podman"; else ENGINE_REASON="${docker_note}"; fi
    return 0
  fi
  ENGINE_REASON="${docker_note}, and podman is not installed or \`podman info\` fails"
  return 1
}

# A plain single-platform linux/amd64 image in Docker's manifest format: Lambda rejects image indexes
# with provenance attestations, which buildx adds by default; podman adds none.
image_build_command() {
  local engine="$1"
  case "${engine}" in
    docker)
      if docker buildx version >/dev/null 2>&1; then
        printf '%s\n' docker buildx build --provenance=false --load
      else
        printf '%s\n' docker build
      fi
      ;;
    podman) printf '%s\n' podman build "--isolation=${PODMAN_ISOLATION:-chroot}" --format docker ;;
    *) echo "unknown container engine '${engine}'" >&2; return 2 ;;
  esac
  printf '%s\n' --platform linux/amd64
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  if choose_container_engine; then
    echo "${ENGINE}: ${ENGINE_REASON}" >&2
    echo "${ENGINE}"
  else
    echo "no container engine: ${ENGINE_REASON}" >&2
    exit 1
  fi
fi
