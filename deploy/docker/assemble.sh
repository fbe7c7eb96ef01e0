#!/bin/sh
# Lays out one production tree per service for the final image stages. Runs in the Dockerfile's build stage at the
# repository root, after `npm ci` and `tsc -b`:
#
#   sh deploy/docker/assemble.sh OUT SERVICE...   →   OUT/<service>/{node_modules, libs/*/{package.json,dist}, services/<service>/{package.json,dist}}
#
# `npm ls --omit=dev` names exactly the installed packages the service needs at run time (dev tools and the other
# services' dependencies left out); they are copied at the same paths, so Node resolves them as in the full tree,
# and the workspace links (node_modules/@switchboard/*) keep pointing at the libs, of which only package.json and
# dist/ are copied. The gateway's uWebSockets.js package ships native builds for every platform and Node ABI; only
# the one this Node loads is kept (about 100 MB less). Copying instead of a second `npm install` keeps this step
# offline and a few seconds long.
set -eu
out=$1
shift
abi="$(node -p 'process.platform + "_" + process.arch + "_" + process.versions.modules')"
for svc in "$@"; do
  dir="$out/$svc"
  rm -rf "$dir"
  mkdir -p "$dir/node_modules"
  cp package.json "$dir/"
  npm ls --omit=dev --all --parseable -w "services/$svc" > "$dir.packages"
  sed "s|^$PWD/||" "$dir.packages" | grep '^node_modules/' | while read -r pkg; do
    # A nested node_modules was copied with its parent package already.
    [ -e "$dir/$pkg" ] || [ -L "$dir/$pkg" ] || { mkdir -p "$dir/$(dirname "$pkg")" && cp -a "$pkg" "$dir/$pkg"; }
  done
  rm -f "$dir.packages"
  for link in "$dir"/node_modules/@switchboard/*; do
    ws=$(readlink "$link" | sed 's|^\.\./\.\./||')
    mkdir -p "$dir/$ws"
    cp "$ws/package.json" "$dir/$ws/"
    cp -r "$ws/dist" "$dir/$ws/dist"
  done
  find "$dir" -path "$dir/node_modules" -prune -o \( -name "*.test.*" -o -name "*.tsbuildinfo" \) -type f -exec rm -f {} +
  if [ -d "$dir/node_modules/uWebSockets.js" ]; then
    find "$dir/node_modules/uWebSockets.js" -name 'uws_*.node' ! -name "uws_$abi.node" -type f -delete
  fi
done
