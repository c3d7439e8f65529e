#!/usr/bin/env bash
# Install what the VS Code extension's tests need, offline from anything but the npm and Debian
# registries, idempotently (a second run checks stamps and does nothing):
#   - apt: chromium (the browser playwright-core drives), ripgrep (code-server's search binary,
#     which its npm package would fetch from GitHub), libkrb5-dev (to build code-server's kerberos);
#   - editors/vscode/node_modules from package-lock.json (npm ci);
#   - code-server 4.100.3 (VS Code 1.100.3, the last release on Node 20) under .e2e/code-server.
# A plain `npm install code-server` fails here: its postinstall runs a nested install whose native
# modules download from GitHub. So: npm pack, install with --ignore-scripts, rebuild the native
# modules from source, and do the rest of its postinstall.sh by hand (shared/notes/editors-e2e.md).
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
cd "$HERE"
CODE_SERVER_VERSION=4.100.3
E2E="$HERE/.e2e"
CS="$E2E/code-server"
STAMP="$CS/.swe-lsp-installed-$CODE_SERVER_VERSION"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
# node-gyp would download Node's headers from nodejs.org; use the local ones when they are there.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi

log() { echo "== install-e2e: $*"; }

# -- system packages --------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
[ -e /usr/include/krb5.h ] || [ -e /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-e2e: missing ${missing[*]}; install them with apt (as root) and run again" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# -- the extension's own node_modules ---------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci (extension)"
  npm ci --no-fund --no-audit --loglevel=error
fi

# -- code-server ------------------------------------------------------------------------------
if [ -f "$STAMP" ]; then
  log "code-server $CODE_SERVER_VERSION already installed in $CS"
  exit 0
fi
log "code-server $CODE_SERVER_VERSION into $CS"
rm -rf "$CS" "$E2E/pack"
mkdir -p "$E2E/pack"
(cd "$E2E/pack" && npm pack --silent "code-server@$CODE_SERVER_VERSION" >/dev/null && tar xzf code-server-*.tgz)
mv "$E2E/pack/package" "$CS"
rm -rf "$E2E/pack"

cd "$CS"
npm install --omit=dev --ignore-scripts --no-fund --no-audit --loglevel=error
npm rebuild argon2 --loglevel=error >/dev/null
cd lib/vscode
npm install --omit=dev --ignore-scripts --no-fund --no-audit --loglevel=error
# node-pty's rebuild exits 1 after building pty.node: the .node files are checked below instead.
npm rebuild kerberos node-pty @vscode/spdlog native-watchdog @vscode/deviceid --loglevel=error \
  >/dev/null 2>&1 || true
for mod in kerberos node-pty @vscode/spdlog native-watchdog @vscode/deviceid; do
  if ! find "node_modules/$mod" -name '*.node' -path '*Release*' | grep -q .; then
    echo "install-e2e: the native module $mod did not build (see npm rebuild $mod in $CS/lib/vscode)" >&2
    exit 1
  fi
done
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
# The rest of code-server's postinstall.sh.
rm -rf node_modules.asar && ln -s node_modules node_modules.asar
(cd bin/remote-cli && rm -f code-server && ln -s code-linux.sh code-server)
(cd bin/helpers && rm -f browser.sh && ln -s browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev --no-fund --no-audit --loglevel=error)
cd "$CS"
node out/node/entry.js --version >/dev/null
touch "$STAMP"
log "done"
