#!/usr/bin/env bash
# Builds a Node 20 base image from Debian packages, for machines that reach Debian's mirror and the npm registry but
# no container registry (so the Dockerfile's default node:20-bookworm-slim cannot be pulled):
#
#   bash deploy/docker/base-image.sh            # prints the image name, e.g. localhost/switchboard-base:bookworm-node20.20.2-1a2b3c4d
#   BASE_IMAGE=$(bash deploy/docker/base-image.sh) npm run images
#
# The root filesystem is Debian bookworm `minbase` (mmdebstrap) with ca-certificates and nats-server (the container
# test runs NATS from this same image), plus this machine's Node 20 binary and npm, copied in. The tag names the
# Node version and a hash of this recipe, so a second run finds the image and returns at once. Needs root, mmdebstrap
# and a container engine (CONTAINER_ENGINE, else podman, else docker).
set -euo pipefail
cd "$(dirname "$0")/../.."

engine="${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}"
[ -n "$engine" ] || { echo "base-image.sh: no container engine (podman or docker) found" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "base-image.sh: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 1; }

node_bin="$(readlink -f "$(command -v node)")"
node_version="$("$node_bin" --version)"
case "$node_version" in
  v20.*) ;;
  *) echo "base-image.sh: the images need Node 20, this machine has $node_version" >&2; exit 1 ;;
esac
npm_dir="$(npm root -g)/npm"
[ -f "$npm_dir/bin/npm-cli.js" ] || { echo "base-image.sh: npm not found at $npm_dir" >&2; exit 1; }

recipe_hash="$(cat "$0" | sha256sum | cut -c1-8)"
image="localhost/switchboard-base:bookworm-node${node_version#v}-${recipe_hash}"
if "$engine" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "base-image.sh: building $image with mmdebstrap (a few minutes)" >&2
mmdebstrap --quiet --variant=minbase --include=ca-certificates,nats-server \
  --customize-hook="copy-in $node_bin /usr/local/bin" \
  --customize-hook='mkdir -p "$1/usr/local/lib/node_modules"' \
  --customize-hook="copy-in $npm_dir /usr/local/lib/node_modules" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"' \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale' \
  bookworm "$work/rootfs.tar" >&2
"$engine" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' "$work/rootfs.tar" "$image" >/dev/null
echo "$image"
