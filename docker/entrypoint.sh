#!/bin/sh
# Starts `murmur` with the container's arguments. In the compose testnet the
# bootstrap publishes its peer id to a shared volume before it starts
# (MURMUR_PUBLISH_PEER_ID) and every other host waits for it and adds
# `--bootstrap $MURMUR_BOOTSTRAP_ADDR/p2p/<id>` (MURMUR_BOOTSTRAP_PEER_ID):
# the same steps scripts/testnet.js takes for the netns testnet.
set -eu

if [ -n "${MURMUR_PUBLISH_PEER_ID:-}" ]; then
  # `init` creates only what is missing: the same peer id on every restart
  murmur init --json | node -e 'let s = ""; process.stdin.on("data", d => { s += d }).on("end", () => { process.stdout.write(JSON.parse(s).peerId) })' > "$MURMUR_PUBLISH_PEER_ID.tmp"
  mv "$MURMUR_PUBLISH_PEER_ID.tmp" "$MURMUR_PUBLISH_PEER_ID"
fi

if [ -n "${MURMUR_BOOTSTRAP_PEER_ID:-}" ]; then
  waited=0
  until [ -s "$MURMUR_BOOTSTRAP_PEER_ID" ]; do
    if [ "$waited" -ge 120 ]; then
      echo "entrypoint: no bootstrap peer id in $MURMUR_BOOTSTRAP_PEER_ID after 120 s" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  set -- "$@" --bootstrap "${MURMUR_BOOTSTRAP_ADDR:?set MURMUR_BOOTSTRAP_ADDR}/p2p/$(cat "$MURMUR_BOOTSTRAP_PEER_ID")"
fi

exec murmur "$@"
