#!/bin/sh
# Runs CMD inside an image's root file system the way Lambda runs a function: root file system read-only,
# a writable /tmp, as the image's user, with the caller's environment. No container engine: a private
# mount namespace (unshare) and chroot, as `podman run` cannot run here (see the local stack README).
#
#   enter_rootfs.sh ROOTFS [--user UID:GID] [--tmp DIR] [--workdir DIR] [--bind SRC:DST[:ro]]... -- CMD...
#
# The same interface as scripts/image/enter.sh (`make image-test`), which the local stack uses instead
# when the repository has it; this copy lets the executor run images without it.
#   ROOTFS          the image's file system, e.g. "$(podman image mount localhost/video-export-worker:dev)"
#   --user          who CMD runs as (default 65534:65534), numeric as in the image's USER
#   --tmp DIR       a host directory mounted writable on /tmp
#   --bind SRC:DST  a host path mounted on DST, which must exist in the image (":ro": read-only)
#
# The mounts live in the namespace only and end with its last process: nothing to clean up. Every step
# execs the next, so CMD keeps this script's pid and process group (the executor kills the group). The
# network is the host's: 127.0.0.1 reaches LocalStack.
set -eu
# The caller's PATH is CMD's (the image's); this script's own tools come from the host's system PATH.
caller_path=${PATH-}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ "${1:-}" != --in-namespace ]; then
  PATH=${caller_path} exec "$(command -v unshare)" --mount --propagation private -- "$0" --in-namespace "$@"
fi
shift
root=${1:?usage: enter_rootfs.sh ROOTFS [--user UID:GID] [--tmp DIR] [--workdir DIR] [--bind SRC:DST[:ro]]... -- CMD...}
shift
[ -d "${root}/usr" ] || { echo "enter_rootfs.sh: ${root} is not an image's root file system" >&2; exit 2; }
# The root becomes a mount of its own in this namespace, made read-only (here only: `podman image mount`
# already is) once the writable /tmp and the other mounts are on it.
mount --bind "${root}" "${root}"
mount --rbind /dev "${root}/dev"
mount -t proc proc "${root}/proc"
user=65534:65534 workdir=/
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --tmp) mount --bind "$2" "${root}/tmp"; shift 2 ;;
    --bind)
      src=${2%%:*} rest=${2#*:}
      dst=${rest%%:*} mode=${rest#"${dst}"}
      mount --bind "${src}" "${root}${dst}"
      if [ "${mode}" = :ro ]; then mount -o remount,bind,ro "${root}${dst}"; fi
      shift 2 ;;
    --) shift; break ;;
    *) echo "enter_rootfs.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mount -o remount,bind,ro "${root}"
[ $# -gt 0 ] || { echo "enter_rootfs.sh: no command after --" >&2; exit 2; }
chroot=$(command -v chroot)
PATH=${caller_path}
# shellcheck disable=SC2016
exec "${chroot}" --userspec="${user}" "${root}" /bin/sh -c 'cd "$1" && shift && exec "$@"' enter "${workdir}" "$@"
