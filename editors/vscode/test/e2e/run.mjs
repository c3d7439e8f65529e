// The VS Code end-to-end test: code-server 4.100.3 (VS Code 1.100.3) with the extension installed
// from its .vsix, driven in Debian's chromium by playwright-core; the suite (suite/index.ts) runs in
// the extension host through VS Code's extension-tests payload route and reports its exit code
// through window.codeAutomationExit. Screenshots are taken when the suite asks for them.
//
// Needs: scripts/install-e2e.sh done, `npm run build` and `npm run package` done, a Python with
// swe-lsp (SWE_LSP_PYTHON, default ../../.venv/bin/python). Usage:
//   node test/e2e/run.mjs [--update-screenshot]
// Environment: E2E_ARTIFACTS (where screenshots and logs go; default a fresh temp dir),
// SWE_LSP_CACHE_DIR (the prepared-model cache, default ../../.cache/test-models).
// Exit status 0 when the suite passed; the artifacts folder is printed either way.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXT = path.resolve(HERE, '../..');
const REPO = path.resolve(EXT, '../..');
const CODE_SERVER = path.join(EXT, '.e2e/code-server/out/node/entry.js');
const VSIX = path.join(EXT, 'dist/swe-lsp.vsix');
const SUITE = path.join(EXT, 'dist/test/e2e-suite.js');
const PYTHON = process.env.SWE_LSP_PYTHON ?? path.join(REPO, '.venv/bin/python');
const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const SUITE_LIMIT_S = 1800; // only turns a hang into a failure

function fail(message) {
  console.error(`e2e: ${message}`);
  process.exit(2);
}

for (const [what, file] of [
  ['code-server (run scripts/install-e2e.sh)', CODE_SERVER],
  ['the .vsix (run npm run package)', VSIX],
  ['the suite bundle (run npm run build)', SUITE],
  ['a Python with swe-lsp (set SWE_LSP_PYTHON)', PYTHON],
  ['chromium (apt install chromium)', CHROMIUM],
]) {
  if (!fs.existsSync(file)) fail(`missing ${what}: ${file}`);
}
const serverBin = path.join(path.dirname(PYTHON), 'swe-lsp');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'swe-lsp-vscode-e2e-'));
const artifacts = process.env.E2E_ARTIFACTS ?? path.join(tmp, 'artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const out = path.join(tmp, 'suite-out');
fs.mkdirSync(out);
console.log(`e2e: temp ${tmp}, artifacts ${artifacts}`);

const xdg = Object.fromEntries(['DATA', 'CONFIG', 'CACHE', 'STATE'].map((k) => [`XDG_${k}_HOME`, path.join(tmp, `xdg-${k.toLowerCase()}`)]));
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWE_LSP_') && !k.startsWith('VSCODE_')));
const serverEnv = {
  ...baseEnv,
  ...xdg,
  HOME: path.join(tmp, 'home'),
  SWE_LSP_MODEL__BACKEND: 'transformers',
  SWE_LSP_MODEL__THREADS: '1',
  SWE_LSP_CACHE_DIR: process.env.SWE_LSP_CACHE_DIR ?? path.join(REPO, '.cache/test-models'),
  SWE_LSP_SEARCH__BEAM: '1',
  SWE_LSP_SEARCH__MAX_LOCALIZATION_ROUNDS: '1',
  SWE_LSP_SEARCH__MAX_REFINEMENTS: '0',
  SWE_LSP_SEARCH__MAX_TOKENS: '64',
  HF_HUB_OFFLINE: '1',
  TOKENIZERS_PARALLELISM: 'false',
  OMP_NUM_THREADS: '1',
};
fs.mkdirSync(serverEnv.HOME);

// -- the fixture workspace (a git repository) and the seeded job ------------------------------
// The same workspace and seeding as the server's and Neovim's tests (tests/seeded_jobs.py), into
// the store the server will open (XDG_DATA_HOME above).
const ws = path.join(tmp, 'ws');
const seed = spawnSync(PYTHON, [path.join(REPO, 'tests/seeded_jobs.py'), ws], { env: serverEnv, encoding: 'utf8' });
if (seed.status !== 0) fail(`creating the workspace and seeding the job store failed:\n${seed.stdout}\n${seed.stderr}`);
const seeded = JSON.parse(seed.stdout);
// The folder's own settings file sets a key only a trusted folder may set (which of the user's
// variables is sent as an API key): ignored until the suite has the folder trusted.
fs.writeFileSync(path.join(ws, 'swe-lsp.toml'), '[model]\napi_key_env = "SWE_LSP_E2E_API_KEY"\n');

// -- code-server: config, user settings, the .vsix ----------------------------------------------
const userData = path.join(tmp, 'user-data');
const extensions = path.join(tmp, 'extensions');
fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
fs.mkdirSync(path.join(userData, 'Machine'), { recursive: true });
// In a remote window (code-server's), machine-scoped settings come from the remote machine's file.
fs.writeFileSync(path.join(userData, 'Machine/settings.json'), JSON.stringify({ 'swe-lsp.serverCommand': [serverBin, 'serve'] }, null, 2));
fs.writeFileSync(
  path.join(userData, 'User/settings.json'),
  JSON.stringify(
    {
      'swe-lsp.search.budget': 1,
      'swe-lsp.sandbox.kind': 'local',
      'chat.disableAIFeatures': true,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      // The folder opens in Restricted Mode (no prompt); the suite has it trusted part-way.
      'security.workspace.trust.enabled': true,
      'security.workspace.trust.startupPrompt': 'never',
      'security.workspace.trust.banner': 'never',
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'update.mode': 'none',
      'workbench.colorTheme': 'Default Dark Modern',
      'window.zoomLevel': 0,
    },
    null,
    2,
  ),
);
const config = path.join(tmp, 'code-server.yaml');
fs.writeFileSync(config, 'auth: none\ncert: false\n');
const csArgs = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];
const install = spawnSync(process.execPath, [CODE_SERVER, ...csArgs, '--install-extension', VSIX], { env: serverEnv, encoding: 'utf8' });
if (install.status !== 0) fail(`installing the .vsix failed:\n${install.stdout}\n${install.stderr}`);

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const csLog = fs.openSync(path.join(artifacts, 'code-server.log'), 'w');
const codeServer = spawn(
  process.execPath,
  [
    CODE_SERVER,
    ...csArgs,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    ws,
  ],
  { env: { ...serverEnv, E2E_OUT: out, E2E_SEEDED: JSON.stringify(seeded) }, stdio: ['ignore', csLog, csLog], detached: true },
);

let browser;
let status = 1;
try {
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (codeServer.exitCode !== null) throw new Error(`code-server exited with ${codeServer.exitCode} (see code-server.log)`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('code-server did not answer /healthz within 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const pageLog = fs.createWriteStream(path.join(artifacts, 'browser-console.log'));
  page.on('console', (m) => pageLog.write(`${m.type()}: ${m.text()}\n`));
  let exitCode;
  const exited = new Promise((resolve) => {
    page.exposeFunction('codeAutomationExit', (code) => {
      exitCode = code;
      resolve(code);
    });
  });
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', remote(path.join(HERE, 'host'))],
    ['extensionTestsPath', remote(SUITE)],
  ]);
  await page.goto(`${base}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(payload)}`);

  // Serve the suite's screenshot requests until it exits.
  const shots = [];
  const suiteDeadline = Date.now() + SUITE_LIMIT_S * 1000;
  while (exitCode === undefined) {
    for (const want of fs.readdirSync(out).filter((f) => f.startsWith('want-'))) {
      const name = want.slice('want-'.length);
      if (name === 'trust') {
        // The suite opened the Workspace Trust editor: press its "Trust" button, as the user would.
        await page.getByRole('button', { name: 'Trust', exact: true }).first().click({ timeout: 60_000 });
        fs.renameSync(path.join(out, want), path.join(out, `took-${name}`));
        console.log('e2e: trusted the folder');
        continue;
      }
      await new Promise((r) => setTimeout(r, 700)); // let the workbench paint what the suite just did
      const file = path.join(artifacts, `${name}.png`);
      await page.screenshot({ path: file });
      shots.push(file);
      fs.renameSync(path.join(out, want), path.join(out, `took-${name}`));
      console.log(`e2e: screenshot ${file}`);
    }
    if (Date.now() > suiteDeadline) throw new Error(`the suite did not finish within ${SUITE_LIMIT_S} s`);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
  }
  await page.screenshot({ path: path.join(artifacts, 'exit.png') });
  status = exitCode;
  if (status === 0) {
    // Checked from outside VS Code too: the file on disk has exactly the applied hunk.
    const text = fs.readFileSync(path.join(ws, 'calc.py'), 'utf8');
    if (text !== seeded.expectedHunks[1]) throw new Error(`calc.py on disk is not what the suite applied:\n${text}`);
    if (process.argv.includes('--update-screenshot')) {
      fs.copyFileSync(path.join(artifacts, 'review.png'), path.join(EXT, 'screenshot.png'));
    }
  }
} catch (err) {
  console.error(`e2e: ${err instanceof Error ? err.stack : err}`);
  status = 1;
} finally {
  await browser?.close().catch(() => {});
  try {
    process.kill(-codeServer.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  // The suite's log and the extension's output channel (the server's stderr) tell what happened.
  for (const file of [path.join(out, 'suite.log'), ...findFiles(path.join(userData, 'logs'), /SWE-LSP\.log$|exthost\.log$/)]) {
    if (fs.existsSync(file)) fs.copyFileSync(file, path.join(artifacts, path.basename(file)));
  }
  if (status !== 0) {
    for (const name of ['suite.log', 'SWE-LSP.log', 'exthost.log']) {
      const file = fs.readdirSync(artifacts).find((f) => f.endsWith(name));
      if (file) console.error(`---- ${file} (tail)\n${fs.readFileSync(path.join(artifacts, file), 'utf8').split('\n').slice(-60).join('\n')}`);
    }
  }
  console.log(`e2e: ${status === 0 ? 'passed' : `FAILED (exit ${status})`}; artifacts in ${artifacts}`);
}
process.exit(status);

function findFiles(dir, pattern) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, f)).filter((f) => pattern.test(f));
}
