#!/usr/bin/env bash
# Bring a bare Debian host to the point where the project's builds and tests run:
# a Docker engine with BuildKit, buildx and compose, plus stand-in base images for the
# Python flavours Debian ships. Idempotent: every step checks first and does nothing
# where the engine or the images already exist (real `python:*` images win over stand-ins).
#
#   dev/setup-host.sh [tools] [engine] [emulators] [base-images] [registry] [signing] [service-images]
#
# With no argument it does all seven. Needs root and a Debian host (CI, dev boxes).
set -euo pipefail

log() { printf '[setup-host] %s\n' "$*" >&2; }
die() { printf '[setup-host] error: %s\n' "$*" >&2; exit 1; }

STATE_DIR=${SETUP_HOST_STATE_DIR:-/var/cache/airflow-image-setup}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/airflow-image-dockerd.log}
# Stand-ins live under a registry host name that Docker Hub can never serve, so a stand-in
# is never mistaken for (or shadows) the official image of the same tag.
STANDIN_PREFIX=${STANDIN_PREFIX:-localhost/standin}
# flavour:suite pairs that Debian itself can give (no Debian suite ships 3.10 or 3.12).
DEBIAN_FLAVOURS=${DEBIAN_FLAVOURS:-"3.11:bookworm 3.13:trixie 3.14:forky"}
# The platforms a stand-in base serves under its one tag, like the official multi-platform images.
STANDIN_PLATFORMS=${STANDIN_PLATFORMS:-"linux/amd64 linux/arm64"}

export DEBIAN_FRONTEND=noninteractive

# The host's own Debian mirror, read from its apt configuration (never hard-coded).
debian_mirror() {
    local uri
    uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | grep -E '/debian/?$' | head -n 1 || true)
    if [[ -z $uri ]]; then
        uri=$(awk '$1 == "deb" && $0 ~ /bookworm/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
              /etc/apt/sources.list 2>/dev/null | grep -E '/debian/?$' | head -n 1 || true)
    fi
    [[ -n $uri ]] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    printf '%s\n' "${uri%/}"
}

apt_updated=0
apt_install() {
    if (( ! apt_updated )); then apt-get update -qq; apt_updated=1; fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_is_new_enough() {
    command -v dockerd >/dev/null || return 1
    local major
    major=$(dockerd --version | sed -E 's/^Docker version ([0-9]+)\..*/\1/')
    [[ $major =~ ^[0-9]+$ ]] && (( major >= 26 )) || return 1
    docker buildx version >/dev/null 2>&1 && docker compose version >/dev/null 2>&1
}

install_engine() {
    log "installing the Docker engine from Debian packages"
    # policy-rc.d keeps the packages' maintainer scripts from trying to start services.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt_install docker.io debootstrap iptables
    # trixie's engine (26.x) brings BuildKit with heredocs and secret mounts, buildx and compose v2;
    # it installs cleanly on bookworm. trixie's runc/tini need a newer libc than bookworm's, so only
    # these three come from trixie.
    install_from_trixie docker.io docker-buildx docker-compose
    rm -f /usr/sbin/policy-rc.d
}

# Installs single trixie packages without their dependencies (they are static Go programs or need
# only what bookworm has). A private apt state leaves the host's own sources untouched.
install_from_trixie() {
    local mirror apt_dir
    mirror=$(debian_mirror)
    apt_dir="$STATE_DIR/apt-trixie"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$mirror" \
        >"$apt_dir/sources.list"
    local -a private=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                      -o "Dir::State::Lists=$apt_dir/lists")
    apt-get "${private[@]}" update -qq
    (cd "$apt_dir/debs" && rm -f ./*.deb && apt-get "${private[@]}" download "$@" >/dev/null)
    dpkg -i --force-depends "$apt_dir"/debs/*.deb >/dev/null
}

# Builds and tests add to BuildKit's cache with every run; on a long-lived host it would fill the
# disk. The garbage-collection limit below bounds what the engine's GC reaches (under the containerd
# store, only part of the cache: bound_build_cache does the rest). The containerd image store is what lets the
# engine hold multi-platform images (`--load` of linux/amd64,linux/arm64) and lets BuildKit attach
# provenance attestations; the classic store refuses both. Settings already in the file are kept.
BUILDER_KEEP_STORAGE=${BUILDER_KEEP_STORAGE:-12GB}
configure_engine() {
    mkdir -p /etc/docker
    python3 - /etc/docker/daemon.json "$BUILDER_KEEP_STORAGE" <<'PY'
import json, pathlib, sys
path, keep = pathlib.Path(sys.argv[1]), sys.argv[2]
config = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
config.setdefault("builder", {}).setdefault("gc", {"enabled": True, "defaultKeepStorage": keep})
config.setdefault("features", {})["containerd-snapshotter"] = True
path.write_text(json.dumps(config, indent=2) + "\n")
PY
}

uses_containerd_store() {
    [[ $(docker info -f '{{json .DriverStatus}}' 2>/dev/null) == *io.containerd.snapshotter* ]]
}

start_engine() {
    if docker info >/dev/null 2>&1; then return 0; fi
    configure_engine
    log "starting dockerd (log: $DOCKERD_LOG)"
    setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    local i
    for i in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then log "engine ready: $(docker version -f '{{.Server.Version}}')"; return 0; fi
        sleep 1
    done
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer within 60 s"
}

step_engine() {
    if docker info >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        uses_containerd_store || die "the running engine uses the classic image store; multi-platform images and attestations need the containerd store: stop dockerd and run this again (it enables the store in /etc/docker/daemon.json)"
        log "engine already running: $(docker version -f '{{.Server.Version}}'), containerd image store"
    else
        engine_is_new_enough || install_engine
        start_engine
    fi
    bound_build_cache
}

# Under the containerd image store the engine's cache GC (daemon.json above) and a size-bounded prune
# only reach BuildKit's private records; the records it reports as shared (most of the layers) go only
# with `prune --all`, so the cache outgrew its bound (~63 GB on the CI host, 1.4 GB left free in the
# middle of a run). Private records are pruned to the bound; when less than MIN_FREE_GB is then free
# for a run, the whole build cache goes (the next builds start cold). Tagged images, the stand-ins
# among them, are never touched; only the untagged ones that rebuilding a tag leaves behind.
MIN_FREE_GB=${MIN_FREE_GB:-30}
free_gb() { df -Pk "$(docker info -f '{{.DockerRootDir}}')" | awk 'NR == 2 {print int($4 / 1048576)}'; }
bound_build_cache() {
    local before after
    before=$(free_gb)
    docker builder prune --force --keep-storage "$BUILDER_KEEP_STORAGE" >/dev/null
    docker image prune --force >/dev/null
    if (( $(free_gb) < MIN_FREE_GB )); then
        log "less than $MIN_FREE_GB GB free: emptying the build cache"
        docker builder prune --all --force >/dev/null
    fi
    after=$(free_gb)
    log "${after} GB free for images and builds (was ${before} GB; wanted: $MIN_FREE_GB GB)"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# A stand-in is current when it carries the hash of the recipe it was built from: changing a
# recipe rebuilds the stand-in on every host, instead of leaving old ones in place.
RECIPE_LABEL=org.apache.airflow.image.standin-recipe
recipe_hash() { cat "$@" | sha256sum | cut -c1-16; }
standin_current() {
    local ref=$1 want=$2
    [[ $(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$ref" 2>/dev/null) == "$want" ]]
}

# A platform's Debian architecture name (the two this project builds for).
debian_arch() {
    case $1 in
        linux/amd64) echo amd64 ;;
        linux/arm64) echo arm64 ;;
        *) die "platform '$1' is not one of: linux/amd64, linux/arm64" ;;
    esac
}

# One Debian minbase root filesystem as a tarball, cached per suite and architecture. A foreign
# architecture's second stage runs under the emulators that the emulators step registered.
debian_rootfs_tar() {
    local suite=$1 arch=$2 tar="$STATE_DIR/rootfs/$1-$2.tar"
    if [[ -s $tar ]]; then printf '%s\n' "$tar"; return 0; fi
    command -v debootstrap >/dev/null || apt_install debootstrap
    local mirror dir script=""
    mirror=$(debian_mirror)
    dir=$(mktemp -d /tmp/rootfs-"$suite-$arch".XXXXXX)
    # bookworm's debootstrap knows newer suites through its sid script.
    [[ -e /usr/share/debootstrap/scripts/$suite ]] || script=/usr/share/debootstrap/scripts/sid
    log "debootstrap $suite/$arch (minbase) from $mirror"
    debootstrap --arch "$arch" --variant=minbase "$suite" "$dir" "$mirror" $script \
        >"$STATE_DIR/debootstrap-$suite-$arch.log" 2>&1 \
        || { tail -n 20 "$STATE_DIR/debootstrap-$suite-$arch.log" >&2; die "debootstrap $suite/$arch failed"; }
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb
    # A mirror that serves a frozen snapshot has testing-suite Release files past their Valid-Until
    # date; the stand-ins (CI only, never released) must still install from it.
    printf 'Acquire::Check-Valid-Until "false";\n' >"$dir/etc/apt/apt.conf.d/99snapshot-mirror"
    mkdir -p "$STATE_DIR/rootfs"
    tar -C "$dir" -cf "$tar.partial" . && mv "$tar.partial" "$tar"
    rm -rf "$dir"
    printf '%s\n' "$tar"
}

# Debian rootfs → one multi-platform image per suite, so that every stand-in built on it serves
# each platform under one tag (as the official images do).
debian_rootfs_image() {
    local suite=$1 ref="$STANDIN_PREFIX/debian:$1-rootfs"
    local recipe
    recipe=$(printf '%s' "$STANDIN_PLATFORMS" | recipe_hash "$(dirname "$0")/standin/rootfs.Dockerfile" -)
    if standin_current "$ref" "$recipe"; then printf '%s\n' "$ref"; return 0; fi
    local ctx platform pids=() arch
    ctx=$(mktemp -d /tmp/rootfs-context.XXXXXX)
    # The architectures' debootstraps are independent: run them side by side.
    for platform in $STANDIN_PLATFORMS; do
        arch=$(debian_arch "$platform")
        debian_rootfs_tar "$suite" "$arch" >/dev/null &
        pids+=($!)
    done
    for arch in "${pids[@]}"; do wait "$arch" || die "a root filesystem for $suite could not be made"; done
    for platform in $STANDIN_PLATFORMS; do
        arch=$(debian_arch "$platform")
        ln "$STATE_DIR/rootfs/$suite-$arch.tar" "$ctx/rootfs-$arch.tar" 2>/dev/null \
            || cp "$STATE_DIR/rootfs/$suite-$arch.tar" "$ctx/rootfs-$arch.tar"
    done
    docker buildx build --quiet --platform "$(printf '%s' "$STANDIN_PLATFORMS" | tr ' ' ',')" --provenance=false \
        --label "$RECIPE_LABEL=$recipe" -t "$ref" -f "$(dirname "$0")/standin/rootfs.Dockerfile" --load "$ctx" >/dev/null
    rm -rf "$ctx"
    printf '%s\n' "$ref"
}

# A stand-in for the official python:X.Y-slim-SUITE image: Debian's own python3 with the
# same entry points (/usr/local/bin/python, python3, pip) and pip allowed to install.
make_python_standin() {
    local py=$1 suite=$2 real="python:$1-slim-$2" ref="$STANDIN_PREFIX/python:$1-slim-$2"
    if image_exists "$real"; then log "real base image $real present, no stand-in needed"; return 0; fi
    local recipe
    recipe=$(printf '%s' "$STANDIN_PLATFORMS" \
             | recipe_hash "$(dirname "$0")/standin/python.Dockerfile" "$(dirname "$0")/standin/rootfs.Dockerfile" -)
    if standin_current "$ref" "$recipe"; then log "stand-in $ref present"; return 0; fi
    local root
    root=$(debian_rootfs_image "$suite")
    log "building stand-in $ref for $STANDIN_PLATFORMS"
    # --provenance=false: a base made here is a plain image (an index of platform manifests only).
    docker buildx build --network host --quiet --platform "$(printf '%s' "$STANDIN_PLATFORMS" | tr ' ' ',')" \
        --provenance=false -t "$ref" --build-arg ROOTFS="$root" --build-arg PY="$py" \
        --label "$RECIPE_LABEL=$recipe" --load \
        -f "$(dirname "$0")/standin/python.Dockerfile" "$(dirname "$0")/standin" >/dev/null
}

# nox, uv and invoke for the host's python3: the entry points of everything else.
step_tools() {
    if command -v nox >/dev/null && command -v uv >/dev/null && command -v invoke >/dev/null; then
        log "tools present: nox $(nox --version 2>&1), $(uv --version)"
        return 0
    fi
    log "installing nox, uv and invoke for $(python3 --version)"
    python3 -m pip install --quiet --disable-pip-version-check 'nox>=2025.2.9' 'uv>=0.9' 'invoke>=2.2'
    command -v pyenv >/dev/null && pyenv rehash || true
    command -v nox >/dev/null || die "nox installed but not on PATH (pip's script directory is not on PATH)"
}

# A real OCI registry (Distribution) for push/pull tests; tests start their own instances.
step_registry() {
    if command -v docker-registry >/dev/null; then return 0; fi
    log "installing docker-registry (Distribution) for the registry tests"
    apt_install docker-registry
    # the package's service would listen on every interface; tests start their own on 127.0.0.1
    pkill -x docker-registry 2>/dev/null || true
}

# cosign signs and attests released images and verifies them (tests generate their own key pairs).
step_signing() {
    if command -v cosign >/dev/null && cosign version >/dev/null 2>&1; then return 0; fi
    log "installing cosign (Debian trixie package)"
    install_from_trixie cosign
    cosign version >/dev/null 2>&1 || die "cosign installed but does not run"
}

# Stand-ins for the official postgres/redis images the compose quick start runs with:
# Debian's postgresql-15 / redis-server on the bookworm rootfs (real images win, as for python).
make_service_standin() {
    local name=$1 tag=$2 real=$3 ref="$STANDIN_PREFIX/$1:$2"
    if image_exists "$real"; then log "real image $real present, no stand-in needed"; return 0; fi
    local recipe
    recipe=$(recipe_hash "$(dirname "$0")/standin/$name".*)
    if standin_current "$ref" "$recipe"; then log "stand-in $ref present"; return 0; fi
    local root
    root=$(debian_rootfs_image bookworm)
    log "building stand-in $ref"
    docker build --network host -q -t "$ref" --build-arg ROOTFS="$root" --label "$RECIPE_LABEL=$recipe" \
        -f "$(dirname "$0")/standin/$name.Dockerfile" "$(dirname "$0")/standin" >/dev/null
}

step_service_images() {
    make_service_standin postgres 15-bookworm postgres:16
    make_service_standin redis 7-bookworm redis:7
}

# Emulators for the foreign architecture, so that BuildKit runs arm64 RUN steps on an amd64 host
# (and the reverse). binfmt_misc registrations are kernel-wide; the F flag makes them work inside
# containers, whose root filesystem has no emulator of its own.
step_emulators() {
    local wanted=()
    case $(uname -m) in
        x86_64) wanted=(qemu-aarch64) ;;
        aarch64) wanted=(qemu-x86_64) ;;
        *) die "host architecture $(uname -m) is neither x86_64 nor aarch64" ;;
    esac
    [[ -e /proc/sys/fs/binfmt_misc/status ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || die "binfmt_misc cannot be mounted here; foreign-architecture builds need it"
    if [[ ! -e /proc/sys/fs/binfmt_misc/${wanted[0]} ]]; then
        log "installing qemu-user-static for ${wanted[*]}"
        apt_install qemu-user-static binfmt-support
    fi
    local name
    for name in "${wanted[@]}"; do
        [[ -e /proc/sys/fs/binfmt_misc/$name ]] || update-binfmts --enable "$name" >/dev/null 2>&1 || true
        grep -q '^enabled' "/proc/sys/fs/binfmt_misc/$name" 2>/dev/null \
            || die "emulator $name is not registered with binfmt_misc"
    done
    log "emulators registered: ${wanted[*]}"
}

step_base_images() {
    local pair
    for pair in $DEBIAN_FLAVOURS; do
        make_python_standin "${pair%%:*}" "${pair##*:}"
    done
}

main() {
    [[ $(id -u) == 0 ]] || die "needs root (it installs Debian packages and starts dockerd)"
    mkdir -p "$STATE_DIR"
    local -a steps=("$@")
    (( ${#steps[@]} )) || steps=(tools engine emulators base-images registry signing service-images)
    local s
    for s in "${steps[@]}"; do
        case $s in
            tools) step_tools ;;
            engine) step_engine ;;
            emulators) step_emulators ;;
            base-images) docker info >/dev/null 2>&1 || step_engine; step_base_images ;;
            registry) step_registry ;;
            signing) step_signing ;;
            service-images) docker info >/dev/null 2>&1 || step_engine; step_service_images ;;
            *) die "unknown step '$s' (accepted: tools, engine, emulators, base-images, registry, signing, service-images)" ;;
        esac
    done
}

main "$@"
