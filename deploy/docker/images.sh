#!/usr/bin/env bash
# Builds the four service images from deploy/docker/Dockerfile (`npm run images`):
#
#   switchboard/auth, switchboard/publish-ingest, switchboard/history, switchboard/fanout-gateway : <tag>
#
# Settings (environment): CONTAINER_ENGINE (default: podman if installed, else docker), SWITCHBOARD_IMAGE_TAG
# (default: the version in package.json), BASE_IMAGE (default: the Dockerfile's node:20-bookworm-slim; see
# base-image.sh for a base built from Debian packages), SWITCHBOARD_IMAGES (default: all four, space-separated).
# When npm trusts an extra CA bundle (NODE_EXTRA_CA_CERTS or npm's cafile, as behind a TLS-intercepting proxy) it is
# handed to the build as the secret `npm-ca`, which no image layer keeps. With podman the host's npm cache is mounted
# into the build stage (podman only: docker builds have no volumes).
set -euo pipefail
cd "$(dirname "$0")/../.."

engine="${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}"
[ -n "$engine" ] || { echo "images.sh: no container engine (podman or docker) found; set CONTAINER_ENGINE" >&2; exit 1; }
tag="${SWITCHBOARD_IMAGE_TAG:-$(node -p 'require("./package.json").version')}"
services="${SWITCHBOARD_IMAGES:-auth publish-ingest history fanout-gateway}"

args=(build -f deploy/docker/Dockerfile)
case "$(basename "$engine")" in
  podman*)
    # podman writes OCI images by default, and OCI has no HEALTHCHECK; the Docker format keeps it. The host's npm
    # cache is mounted into the build, so `npm ci` there reads what this machine already fetched.
    args+=(--format docker)
    npm_cache="$(npm config get cache 2>/dev/null || true)"
    if [ -n "$npm_cache" ] && [ -d "$npm_cache" ]; then args+=(--volume "$npm_cache:/root/.npm"); fi
    ;;
esac
[ -n "${BASE_IMAGE:-}" ] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
ca="${NODE_EXTRA_CA_CERTS:-}"
if [ -z "$ca" ]; then ca="$(npm config get cafile 2>/dev/null || true)"; fi
if [ -n "$ca" ] && [ "$ca" != "null" ] && [ -s "$ca" ]; then args+=(--secret "id=npm-ca,src=$ca"); fi

for svc in $services; do
  echo "==> $engine: switchboard/$svc:$tag" >&2
  "$engine" "${args[@]}" --target "$svc" -t "switchboard/$svc:$tag" .
done
