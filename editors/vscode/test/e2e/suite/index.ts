/**
 * The end-to-end suite, run inside code-server's extension host through VS Code's extension-tests
 * route (`run()` as with @vscode/test-electron). It drives the *installed* .vsix through its
 * commands and exported API, against the real Python server:
 *   1. the server starts with the settings from VS Code's settings (checked with swe-lsp.debugInfo),
 *      in Restricted Mode: the folder's swe-lsp.toml key that only a trusted folder may set is
 *      left out and named; once the folder is trusted (the Workspace Trust editor's button), the
 *      server takes it;
 *   2. the server's code action on a TODO runs a real resolve with the embedded model: progress
 *      arrives on the extension's token and the job ends `done`;
 *   3. on a seeded finished job: the candidates QuickPick opens the diff against the `swe-lsp:`
 *      document, accepting it asks for hunks, one hunk is unchecked, and only the other is applied;
 *   4. "SWE-LSP: Cancel" (no argument: the only running job) cancels a second real job;
 *   5. "SWE-LSP: Restart Server" starts a new server process, which answers and still lists the
 *      jobs above from the store;
 *   6. "SWE-LSP: Show Server Log" shows the extension's output channel.
 * The runner (run.mjs) passes its settings in E2E_* variables and takes screenshots on request.
 * Waits are bounded and fail with what they waited for; nothing asserts on time.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { SweLspApi } from '../../../src/extension';
import { JOBS, type JobView } from '../../../src/protocol';

const env = (name: string): string => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run this suite through test/e2e/run.mjs`);
  return value;
};

function log(message: string): void {
  console.log(`[e2e] ${message}`);
  fs.appendFileSync(path.join(env('E2E_OUT'), 'suite.log'), `${new Date().toISOString()} ${message}\n`);
}

async function waitFor<T>(what: string, seconds: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && (value as unknown) !== false) {
      return value;
    }
    if (Date.now() > end) {
      throw new Error(`gave up after ${seconds} s waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function withTimeout<T>(what: string, seconds: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`gave up after ${seconds} s waiting for ${what}`));
    }, seconds * 1000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ask the runner for a screenshot and wait until it is taken. */
async function screenshot(name: string): Promise<void> {
  const out = env('E2E_OUT');
  fs.writeFileSync(path.join(out, `want-${name}`), '');
  await waitFor(`the runner's screenshot ${name}`, 60, () => fs.existsSync(path.join(out, `took-${name}`)));
}

function diffTabs(): vscode.TabInputTextDiff[] {
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .map((t) => t.input)
    .filter((i): i is vscode.TabInputTextDiff => i instanceof vscode.TabInputTextDiff);
}

/** The settings in force in the server, by section (as in swe-lsp.toml), and the client's features. */
interface ServerSettings {
  model: Record<string, unknown>;
  search: Record<string, unknown>;
  sandbox: Record<string, unknown>;
  clientFeatures: Record<string, unknown>;
}

interface ServerState {
  pid: number;
  workspaceTrusted: boolean;
  ignoredSettings: string[];
  settings: Omit<ServerSettings, 'clientFeatures'>;
  clientFeatures: Record<string, unknown>;
}

/** The server's own state, from `swe-lsp.debugInfo`. */
async function serverState(client: LanguageClient): Promise<ServerState> {
  const info = await client.sendRequest<{ server: ServerState }>('workspace/executeCommand', { command: 'swe-lsp.debugInfo', arguments: [] });
  return info.server;
}

async function serverSettings(api: SweLspApi): Promise<ServerSettings> {
  const state = await serverState(await api.client());
  return { ...state.settings, clientFeatures: state.clientFeatures };
}

/** This workspace's jobs as the server lists them (`swe-lsp/jobs`), by id. */
async function serverJobs(client: LanguageClient): Promise<Map<string, JobView>> {
  const { jobs } = await client.sendRequest<{ jobs: JobView[] }>(JOBS, {});
  return new Map(jobs.map((j) => [j.jobId, j]));
}

export async function run(): Promise<void> {
  try {
    await suite();
  } catch (err) {
    log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    throw err;
  }
}

async function suite(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'code-server opened no workspace folder');
  const calc = vscode.Uri.joinPath(folder.uri, 'calc.py');

  // -- the installed extension and its server ----------------------------------------------
  const ext = vscode.extensions.getExtension<SweLspApi>('swe-lsp.swe-lsp');
  assert.ok(ext, 'the swe-lsp extension (from the .vsix) is not installed');
  assert.ok(!ext.extensionPath.includes('/test/e2e/'), `the extension under test is not the installed one: ${ext.extensionPath}`);
  const api = await ext.activate();
  const client = await withTimeout('the language server to start', 120, api.client());
  log(`server started: ${JSON.stringify(client.initializeResult?.serverInfo)}`);

  // Settings from VS Code reach the server shaped like swe-lsp.toml (initializationOptions and
  // the answer to workspace/configuration); unset ones leave the server's (the env's) in force.
  const settings = await waitFor('the server to take the VS Code settings', 30, async () => {
    const s = await serverSettings(api);
    return s.search.budget === 1 && s.sandbox.kind === 'local' ? s : undefined;
  });
  assert.equal(settings.model.backend, 'transformers', 'SWE_LSP_MODEL__BACKEND should stay in force');
  assert.equal(settings.clientFeatures.text_document_content, true, 'vscode-languageclient should announce workspace/textDocumentContent');
  await vscode.workspace.getConfiguration('swe-lsp').update('search.budget', 2, vscode.ConfigurationTarget.Global);
  await waitFor('a changed setting to reach the server', 30, async () => ((await serverSettings(api)).search.budget === 2 ? true : undefined));
  await vscode.workspace.getConfiguration('swe-lsp').update('search.budget', 1, vscode.ConfigurationTarget.Global);
  await waitFor('the setting to go back', 30, async () => ((await serverSettings(api)).search.budget === 1 ? true : undefined));
  log('settings reach the server');

  // -- workspace trust: Restricted Mode, then trusted ---------------------------------------
  assert.equal(vscode.workspace.isTrusted, false, 'the folder should open in Restricted Mode (run.mjs)');
  const limited = await serverState(client);
  assert.equal(limited.workspaceTrusted, false, 'the server should be told the folder is not trusted');
  assert.equal(limited.settings.model.api_key_env, 'OPENAI_API_KEY', 'an untrusted swe-lsp.toml set model.api_key_env');
  assert.ok(
    limited.ignoredSettings.some((m) => m.includes('`model.api_key_env`')),
    `the left-out key is not named: ${JSON.stringify(limited.ignoredSettings)}`,
  );
  const granted = new Promise<void>((resolve) => {
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      resolve();
    });
  });
  await vscode.commands.executeCommand('workbench.trust.manage');
  await screenshot('trust');
  await withTimeout('VS Code to grant workspace trust', 60, granted);
  await waitFor('the server to take the trusted folder\'s swe-lsp.toml', 30, async () => {
    const s = await serverState(client);
    return s.workspaceTrusted && s.settings.model.api_key_env === 'SWE_LSP_E2E_API_KEY' ? true : undefined;
  });
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  log('workspace trust: limited, then trusted');

  // -- a real resolve, started from the server's code action on the TODO --------------------
  const doc = await vscode.workspace.openTextDocument(calc);
  await vscode.window.showTextDocument(doc);
  const todoLine = doc.getText().split('\n').findIndex((l) => l.includes('TODO'));
  const actions = await waitFor('the server\'s code actions on the TODO line', 30, async () => {
    const found = await vscode.commands.executeCommand<vscode.CodeAction[] | undefined>(
      'vscode.executeCodeActionProvider',
      calc,
      new vscode.Range(todoLine, 6, todoLine, 6),
    );
    return found?.some((a) => a.command?.command === 'swe-lsp.resolveIssue') ? found : undefined;
  });
  const titles = actions.map((a) => a.title);
  assert.ok(titles.includes('Resolve issue...'), `no generic "Resolve issue..." action among ${JSON.stringify(titles)}`);
  const todo = actions.find((a) => a.title.startsWith('Resolve issue: TODO'));
  assert.ok(todo?.command, `no action for the TODO among ${JSON.stringify(titles)}`);
  // What VS Code runs when the user picks the action: the client's middleware turns it into a job
  // with the extension's own progress notification.
  const jobId = await vscode.commands.executeCommand(todo.command.command, ...((todo.command.arguments ?? []) as unknown[]));
  assert.ok(typeof jobId === 'string', `the code action's command returned ${JSON.stringify(jobId)}, not a job id`);
  assert.match(jobId, /^[0-9a-f]{12}$/, `the code action's command returned ${JSON.stringify(jobId)}, not a job id`);
  log(`real resolve started: job ${jobId}`);
  await waitFor('the first $/progress report of the real job', 300, () => api.progressOf(jobId).length > 0);
  await screenshot('progress');
  const job: JobView = await withTimeout(`job ${jobId} (the embedded model) to finish`, 1500, api.waitForJob(jobId));
  log(`real job ended: ${job.state}, ${job.candidates} candidate(s), ${job.cost.modelCalls} model calls; progress: ${JSON.stringify(api.progressOf(jobId))}`);
  assert.equal(job.state, 'done', `the real job ended ${job.state}: ${job.error ?? job.message ?? ''}`);
  assert.ok(job.cost.modelCalls > 0, 'the real job made no model call');
  const progress = api.progressOf(jobId);
  assert.ok(progress[0]?.startsWith('begin: '), `progress did not begin: ${JSON.stringify(progress)}`);
  assert.ok(
    await waitFor('the progress end', 30, () => api.progressOf(jobId).some((p) => p.startsWith('end: '))),
    'no progress end',
  );

  // -- review and apply a seeded candidate ----------------------------------------------------
  const seeded = JSON.parse(env('E2E_SEEDED')) as { jobId: string; expectedHunks: string[] };
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  const review = vscode.commands.executeCommand<{ applied: boolean; failureReason?: string } | undefined>('swe-lsp.showCandidates', {
    jobId: seeded.jobId,
  });
  const diff = await waitFor('the diff editor of the active candidate', 60, () =>
    diffTabs().find((d) => d.modified.scheme === 'swe-lsp' && d.original.toString() === calc.toString()),
  );
  const candidateDoc = await vscode.workspace.openTextDocument(diff.modified);
  assert.match(candidateDoc.getText(), /return a \+ b/, 'the candidate document does not have the fix of add()');
  assert.match(candidateDoc.getText(), /raise ValueError\("division by zero"\)/, 'the candidate document lacks the fix of div()');
  log(`diff shown: ${diff.original.toString()} <-> ${diff.modified.toString()}`);
  await screenshot('review');

  // Accept the candidate; in the hunk picker (all checked), uncheck the first hunk and accept.
  const hunksShown = new Promise<void>((resolve) =>
    api.onReviewStep((step) => {
      if (step === 'hunks') {
        resolve();
      }
    }),
  );
  await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
  await withTimeout('the hunk picker (the candidate has two hunks)', 30, hunksShown);
  await screenshot('hunks');
  await vscode.commands.executeCommand('workbench.action.quickPickManyToggle');
  await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
  const applied = await withTimeout('the apply to finish', 60, Promise.resolve(review));
  assert.deepEqual(applied, { applied: true }, `the candidate was not applied: ${JSON.stringify(applied)}`);

  const edited = vscode.workspace.textDocuments.find((d) => d.uri.toString() === calc.toString());
  assert.ok(edited, 'calc.py is not open after the apply');
  assert.equal(edited.getText(), seeded.expectedHunks[1], 'calc.py is not the original with only the second hunk applied');
  assert.ok(await edited.save(), 'saving calc.py failed');
  assert.equal(fs.readFileSync(calc.fsPath, 'utf8'), seeded.expectedHunks[1], 'calc.py on disk is not what was applied');
  log('the second hunk was applied and saved');

  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  const final = await vscode.window.showTextDocument(edited);
  const raise = edited.getText().split('\n').findIndex((l) => l.includes('raise ValueError'));
  final.selection = new vscode.Selection(raise, 0, raise, 0);
  final.revealRange(new vscode.Range(0, 0, raise + 2, 0));
  await screenshot('final');

  // -- "SWE-LSP: Cancel" on a running job ------------------------------------------------------
  const current = await api.client();
  const toCancel = await api.resolve({ issue: 'mul() fails on None arguments', uri: calc.toString() });
  assert.ok(toCancel, 'the second resolve returned no job id');
  await waitFor(`job ${toCancel} to be running`, 120, async () => (await serverJobs(current)).get(toCancel)?.state === 'running');
  // No argument: the command picks the only job that is not final, as it would for the user.
  await vscode.commands.executeCommand('swe-lsp.cancelJob');
  const cancelled = await withTimeout(`job ${toCancel} to end after the cancel`, 180, api.waitForJob(toCancel));
  assert.equal(cancelled.state, 'cancelled', `the cancelled job ended ${cancelled.state}: ${cancelled.error ?? cancelled.message ?? ''}`);
  assert.equal(cancelled.candidates, 0, 'a cancelled job has no candidates');
  await waitFor('the progress end of the cancelled job', 30, () => api.progressOf(toCancel).some((p) => p.startsWith('end: ')));
  log(`job ${toCancel} cancelled; progress: ${JSON.stringify(api.progressOf(toCancel))}`);

  // -- "SWE-LSP: Restart Server": a new server process that answers from the same store -------
  const pidBefore = (await serverState(current)).pid;
  await vscode.commands.executeCommand('swe-lsp.restartServer');
  const restarted = await withTimeout('the restarted server', 120, api.client());
  assert.notEqual(restarted, current, 'Restart Server kept the old language client');
  assert.ok(!current.isRunning(), 'the old language client still runs after the restart');
  assert.ok(restarted.isRunning(), 'the new language client is not running');
  const pidAfter = (await serverState(restarted)).pid;
  assert.notEqual(pidAfter, pidBefore, 'Restart Server did not start a new server process');
  const jobs = await serverJobs(restarted);
  const states = Object.fromEntries([seeded.jobId, jobId, toCancel].map((id) => [id, jobs.get(id)?.state]));
  assert.deepEqual(states, { [seeded.jobId]: 'done', [jobId]: 'done', [toCancel]: 'cancelled' }, 'the jobs after the restart');
  log(`server restarted: pid ${pidBefore} -> ${pidAfter}; jobs: ${JSON.stringify(states)}`);

  // -- "SWE-LSP: Show Server Log" --------------------------------------------------------------
  const isLog = (e: vscode.TextEditor): boolean => e.document.uri.scheme === 'output' && e.document.getText().includes('starting the server');
  await vscode.commands.executeCommand('workbench.action.closePanel');
  await waitFor('the panel to close', 30, () => !vscode.window.visibleTextEditors.some(isLog));
  await vscode.commands.executeCommand('swe-lsp.showServerLog');
  const shown = await waitFor('the SWE-LSP output channel to be shown', 30, () => vscode.window.visibleTextEditors.find(isLog));
  // Both starts are in it: the channel outlives the restart.
  assert.equal(shown.document.getText().split('starting the server').length - 1, 2, 'the log does not have both server starts');
  log(`server log shown: ${shown.document.uri.toString()}`);
  await screenshot('log');
  log('done');
}
