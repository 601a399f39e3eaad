#!/usr/bin/env bash
# Local equivalents of the official base images, for hosts that cannot pull from a registry.
#
#   docker/local-bases.sh debian             # local/debian:bookworm from debootstrap --variant=minbase
#   docker/local-bases.sh airflow|postgres|redis [docker build args...]
#   docker/local-bases.sh image airflow|postgres|redis   # prints the image's name
#
# debootstrap uses the Debian mirror this host's apt uses (FINSENT_DEBIAN_MIRROR overrides), so it
# needs what apt needs and nothing else. Each image is built only when it is missing (remove it with
# `docker image rm` to rebuild). The images and what they stand in for:
#   local/debian:bookworm                  debian:bookworm
#   local/airflow:3.3.2-python3.11         apache/airflow:3.3.2-python3.11 (uid 50000, same entrypoint contract)
#   local/postgres:15                      postgres (Debian's PostgreSQL 15; POSTGRES_PASSWORD, initdb.d)
#   local/redis:7                          redis:7 (Debian's Redis 7)
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_IMAGE=local/debian:bookworm
declare -A IMAGES=([airflow]=local/airflow:3.3.2-python3.11 [postgres]=local/postgres:15 [redis]=local/redis:7)

have() { docker image inspect "$1" >/dev/null 2>&1; }

apt_mirror() {
    # the first deb URI for bookworm in this host's apt sources (deb822 .sources or one-line .list)
    local uri
    uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u {print u; exit}' \
              /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^deb(\s+\[[^]]*\])?\s+\S+\s+bookworm\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                  2>/dev/null | sed -E 's/^deb(\s+\[[^]]*\])?\s+(\S+).*/\2/' | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

debian() {
    if have "$DEBIAN_IMAGE"; then echo "$DEBIAN_IMAGE exists"; return; fi
    command -v debootstrap >/dev/null 2>&1 || {
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap) >/dev/null; }
    local mirror root
    mirror=${FINSENT_DEBIAN_MIRROR:-$(apt_mirror)}
    root=$(mktemp -d /tmp/finsent-debootstrap.XXXXXX)
    # a RETURN trap is global: clear it once it ran, or it fires again (root unset) when the caller returns
    trap 'rm -rf "${root:-}"; trap - RETURN' RETURN
    echo "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 \
        || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; return 1; }
    rm -f "$root.log"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$DEBIAN_IMAGE" >/dev/null
    echo "built $DEBIAN_IMAGE"
}

base() {
    local kind=$1
    shift
    local image=${IMAGES[$kind]}
    if have "$image"; then echo "$image exists"; return; fi
    debian
    docker build --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" -t "$image" -f "docker/base/$kind.Dockerfile" "$@" .
    echo "built $image"
}

case "${1:-}" in
    image) echo "${IMAGES[${2:?image KIND}]}" ;;  # the name only: what compose.sh records in .env
    debian) debian ;;
    airflow|postgres|redis) kind=$1; shift; base "$kind" "$@" ;;
    *) echo "usage: local-bases.sh debian|airflow|postgres|redis [docker build args]" >&2; exit 2 ;;
esac
