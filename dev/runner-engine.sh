#!/usr/bin/env bash
# On a hosted CI runner whose Docker engine is already running (GitHub's ubuntu images): switch the
# engine to the containerd image store, which multi-platform images and provenance attestations need,
# and register arm64 emulation. Settings already in daemon.json are kept. Bare hosts use
# dev/setup-host.sh instead, which does the same for an engine it installs itself.
set -euo pipefail

conf=/etc/docker/daemon.json
current=$(sudo cat "$conf" 2>/dev/null || echo '{}')
printf '%s\n' "$current" \
    | jq '. + {"features": ((.features // {}) + {"containerd-snapshotter": true})}' \
    | sudo tee "$conf.new" >/dev/null
sudo mv "$conf.new" "$conf"
sudo systemctl restart docker
docker info --format '{{.DriverStatus}}' | grep -q 'io.containerd.snapshotter' \
    || { echo "runner-engine: the engine did not switch to the containerd image store" >&2; exit 1; }

sudo apt-get install -y -qq qemu-user-static >/dev/null
[[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] \
    || { echo "runner-engine: arm64 emulation (qemu-aarch64 binfmt) is not registered" >&2; exit 1; }
