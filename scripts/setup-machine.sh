#!/usr/bin/env bash
# Installs and starts what healer's sandboxes and checks need on a fresh Debian machine:
# Docker (daemon started if none answers), debootstrap, bubblewrap, Chromium, Node.js.
# Idempotent: every step is skipped when its result is already there.
set -euo pipefail

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v git >/dev/null || need_apt+=(git)
command -v node >/dev/null || need_apt+=(nodejs)
# debootstrap checks the Debian release signatures against this keyring
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need_apt+=(debian-archive-keyring)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-machine: missing ${need_apt[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "setup-machine: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup-machine: starting dockerd"
    setsid dockerd >/tmp/healer-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || echo "setup-machine: no Docker daemon answers (see /tmp/healer-dockerd.log)" >&2
fi

# Sandbox images are built by `healer sandbox build` (or `python -m healer.sandbox.images`);
# they are tagged by a hash of their recipes in sandboxes/ and built only when missing.
