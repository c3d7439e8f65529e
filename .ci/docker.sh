#!/usr/bin/env bash
# Make the sandbox's Docker engine and base image available; safe to run again and again.
#
#   bash .ci/docker.sh [VENV]     VENV: the project's virtual environment (default: .venv)
#
# Installs docker.io, debootstrap and bubblewrap if missing, starts dockerd in the background when
# no engine answers, waits for it (bounded), and builds swe-lsp's base image if it is missing.
# Under CI=true every failure is fatal (the Docker tests must run there); elsewhere it warns and
# exits 0, and the Docker tests skip.
set -uo pipefail

venv="${1:-.venv}"
wait_s="${SWE_LSP_DOCKER_WAIT_S:-60}"
log="${TMPDIR:-/tmp}/swe-lsp-dockerd.log"

give_up() {
  if [ "${CI:-}" = "true" ]; then
    echo "docker.sh: error: $*" >&2
    exit 1
  fi
  echo "docker.sh: warning: $* (the Docker tests will be skipped)" >&2
  exit 0
}

engine_answers() {
  "$venv/bin/python" - <<'PY' >/dev/null 2>&1
import docker
docker.from_env(timeout=10).ping()
PY
}

[ -x "$venv/bin/python" ] || give_up "no Python at $venv/bin/python: create the venv first"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || give_up "not root, cannot apt-get install ${missing[*]}"
  echo "docker.sh: installing ${missing[*]}"
  apt-get update -q >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
    || give_up "apt-get install ${missing[*]} failed"
fi

if ! engine_answers; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    give_up "DOCKER_HOST=$DOCKER_HOST does not answer"
  fi
  [ "$(id -u)" -eq 0 ] || give_up "no Docker engine answers and only root can start dockerd here"
  pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    rm -f "$pidfile"  # left by a dockerd that died; it would refuse to start
  fi
  echo "docker.sh: starting dockerd (log: $log)"
  setsid nohup dockerd >"$log" 2>&1 </dev/null &
  waited=0
  until engine_answers; do
    if [ "$waited" -ge "$wait_s" ]; then
      tail -n 20 "$log" >&2
      give_up "dockerd did not answer within ${wait_s}s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "docker.sh: dockerd answers after ${waited}s"
fi

"$venv/bin/python" -m swe_lsp sandbox build-base || give_up "building the sandbox base image failed"
"$venv/bin/python" -m swe_lsp sandbox status
