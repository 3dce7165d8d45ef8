#!/usr/bin/env bash
# Runs a command inside an image's root file system, as Lambda runs a function: the root read-only,
# /tmp a writable directory of the caller's, /dev and /proc present, an unprivileged user. This is what
# `podman run` would do, on machines where it cannot (no CAP_SYS_RESOURCE for crun's rlimits): a private
# mount namespace (`unshare -m`) and `chroot`. The network is the host's, so 127.0.0.1 is the host.
#
#   scripts/image/enter.sh ROOTFS [--user UID:GID] [--tmp DIR] [--workdir DIR] [--bind SRC:DST[:ro]]... -- CMD...
#
# ROOTFS is a mounted image (`podman image mount REF`, read-only). The caller's environment is kept as it
# is: the caller sets what the image's Env and the function's variables say. Every mount ends with the
# command, because it lives in the command's own mount namespace. The command keeps this script's pid,
# so killing its process group kills everything inside.
set -euo pipefail
# The caller's PATH is CMD's (the image's); this script's own tools come from the host's system PATH.
caller_path="${PATH-}"
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ -z "${ENTER_IMAGE_NAMESPACE:-}" ]; then
  ENTER_IMAGE_NAMESPACE=1 PATH="${caller_path}" exec "$(command -v unshare)" --mount --propagation private -- "$0" "$@"
fi
unset ENTER_IMAGE_NAMESPACE

usage() { echo "usage: enter.sh ROOTFS [--user UID:GID] [--tmp DIR] [--workdir DIR] [--bind SRC:DST[:ro]]... -- CMD..." >&2; exit 2; }
[ $# -ge 1 ] || usage
root="$1"; shift
user="65534:65534"; tmp=""; workdir="/"; binds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user="$2"; shift 2 ;;
    --tmp) tmp="$2"; shift 2 ;;
    --workdir) workdir="$2"; shift 2 ;;
    --bind) binds+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ $# -ge 1 ] || usage
[ -d "${root}/usr" ] || { echo "error: ${root} is not an image's root file system" >&2; exit 2; }

# The root is read-only in this namespace whatever it is on the host (`podman image mount` already is).
mount --bind "${root}" "${root}"
mount -o remount,bind,ro "${root}"
mount --rbind /dev "${root}/dev"
mount -t proc proc "${root}/proc"
if [ -n "${tmp}" ]; then
  mount --bind "${tmp}" "${root}/tmp"
else
  mount -t tmpfs -o mode=1777,size=512m tmpfs "${root}/tmp"
fi
for bind in "${binds[@]}"; do
  IFS=: read -r source target mode <<<"${bind}"
  case "${target}" in /tmp/*) mkdir -p "${root}${target}" ;; esac  # the writable /tmp takes new mount points
  mount --bind "${source}" "${root}${target}"
  if [ "${mode}" = ro ]; then mount -o remount,bind,ro "${root}${target}"; fi
done
chroot="$(command -v chroot)"
PATH="${caller_path}"
# shellcheck disable=SC2016
exec "${chroot}" --userspec="${user}" "${root}" /bin/sh -c 'cd "$1" && shift && exec "$@"' enter "${workdir}" "$@"
