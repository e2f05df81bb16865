#!/usr/bin/env bash
# Install and start what the tests need, idempotently: Debian's docker.io, docker-compose,
# busybox-static, prometheus and chromium; the Compose v2 plugin from Debian unstable; a dockerd if
# none answers; the local busybox test image
# (no registry is reachable, so it is imported from a rootfs); the Python package with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v chromium >/dev/null || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-env: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian's prometheus package starts a server on :9090 through its service. Tests start their own
# on free ports, so it only costs CPU: stop it only when this script just installed it (on a host
# that already had Prometheus, that server is someone's monitoring and is left alone).
if [[ " ${need_apt[*]} " == *" prometheus "* ]]; then
  pkill -u prometheus -x prometheus 2>/dev/null || true
fi

# Compose v2 (the Go `docker compose` plugin) beside Debian bookworm's Compose v1: tests compare
# what rightsize reads from a compose file with what a real v2 reads. Bookworm has no v2; Debian
# testing/unstable have it as a static binary (libc only), so only that binary is taken from their
# package, through a private apt state that leaves this host's sources and packages untouched.
plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if ! "$plugin" version >/dev/null 2>&1; then
  echo "test-env: installing the Compose v2 plugin from Debian unstable"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" >"$tmp/sources.list"
  apt_private=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_private[@]}" update -qq
  # 2.40.3 is the version the tests were written against; take sid's current one if it is gone.
  (cd "$tmp" && { apt-get "${apt_private[@]}" download -qq docker-compose=2.40.3-3 2>/dev/null \
    || apt-get "${apt_private[@]}" download -qq docker-compose; })
  dpkg-deb -x "$tmp"/docker-compose_*.deb "$tmp/x"
  install -D -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-compose" "$plugin"
  rm -rf "$tmp"
  "$plugin" version
fi

if ! docker info >/dev/null 2>&1; then
  echo "test-env: starting dockerd"
  mkdir -p /var/log
  nohup dockerd --storage-driver=vfs >/var/log/rightsize-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "test-env: dockerd did not start; see /var/log/rightsize-dockerd.log" >&2; exit 1; }
fi

if ! docker image inspect rightsize-test/busybox:1 >/dev/null 2>&1; then
  echo "test-env: building rightsize-test/busybox:1"
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - rightsize-test/busybox:1 >/dev/null
  rm -rf "$rootfs"
fi

# a pip that refuses (Debian's externally managed system Python) fails here, named, not later as
# "No module named ruff"
if ! pip_log=$(python3 -m pip install -q -e ".[test,bench]" 2>&1); then
  echo "$pip_log" >&2
  echo "test-env: pip could not install rightsize into $(command -v python3); run in a virtualenv" >&2
  exit 1
fi
echo "$pip_log" | grep -v -e "^WARNING: Location" -e "Running pip as the 'root'" || true
