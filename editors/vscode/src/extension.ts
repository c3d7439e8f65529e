/**
 * SWE-LSP for VS Code: starts `swe-lsp serve`, offers "Resolve Issue..." (also as the server's code
 * action), shows a job's progress with a Cancel button, reviews and applies candidates, and checks
 * the sandbox environment ("Check Sandbox Environment", environment.ts).
 * The logic that does not need `vscode` lives in settings.ts and format.ts (unit-tested).
 */

import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  WorkDoneProgress,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';
import { EnvironmentCheck } from './environment';
import { type LogLevel, jobItem, stderrLevel } from './format';
import { JobTracker, announceFinished, showJobProgress } from './jobs';
import * as P from './protocol';
import { type ReviewClient, reviewJob, reviewSteps } from './review';
import { type ExtensionSettings, needsRestart, readSettings, serverCommand, toServerSettings } from './settings';

const SECTION = 'swe-lsp';

type ProgressValue = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

/** The settings in force (window-level: one server per window). */
function settingsFor(): ExtensionSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return readSettings((key) => config.get(key));
}

/** What `activate` returns: used by the end-to-end tests, and by anyone scripting the extension. */
export interface SweLspApi {
  client(): Promise<LanguageClient>;
  resolve(args: Partial<P.ResolveIssueArgs>): Promise<string | undefined>;
  waitForJob(jobId: string): Promise<P.JobView>;
  progressOf(jobId: string): string[];
  review(jobId: string): Promise<P.ApplyResult | undefined>;
  /** Fires when a review picker is shown ('candidates', 'hunks'). */
  onReviewStep: vscode.Event<'candidates' | 'hunks'>;
  /** "Check Sandbox Environment" (of `tests`, else all), and the `$/progress` messages of the last. */
  checkEnvironment(tests?: string[]): Promise<P.EnvCheckView | undefined>;
  environmentProgress(): string[];
}

class Extension implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel('SWE-LSP', { log: true });
  readonly jobs = new JobTracker();
  readonly environment = new EnvironmentCheck(() => this.client());
  private languageClient: LanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private settings = settingsFor();

  /** The running client, started on first use. */
  client(): Promise<LanguageClient> {
    this.starting ??= this.start().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async start(): Promise<LanguageClient> {
    this.settings = settingsFor();
    const { command, args } = serverCommand(this.settings);
    this.output.info(`starting the server: ${[command, ...args].join(' ')}`);
    const server: ServerOptions = { command, args, options: { env: process.env } };
    const options: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.output,
      // The server's stderr is its log: each line at its own level (vscode-languageclient would
      // show every line as an error).
      stdioOptions: {
        stdout: (input, channel) => {
          createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
            channel.info(line);
          });
        },
        stderr: (input, channel) => {
          let level: LogLevel | undefined;
          createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
            level = stderrLevel(line, level);
            channel[level](line);
          });
        },
      },
      initializationOptions: toServerSettings(this.settings, vscode.workspace.isTrusted),
      middleware: {
        // The server's code action runs `swe-lsp.resolveIssue`: route it through the prompt and the
        // progress notification. Other server commands go through as they are.
        executeCommand: (cmd, cmdArgs, next) =>
          cmd === P.RESOLVE_ISSUE ? this.resolve((cmdArgs[0] ?? {}) as Partial<P.ResolveIssueArgs>) : (next(cmd, cmdArgs) as unknown),
        workspace: {
          // The server pulls section `swe-lsp` shaped like swe-lsp.toml, not like our settings.
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (!Array.isArray(result)) {
              return result;
            }
            const values: unknown[] = result;
            return params.items.map((item, i) =>
              item.section === SECTION ? toServerSettings(settingsFor(), vscode.workspace.isTrusted) : values[i],
            );
          },
        },
      },
    };
    const client = new LanguageClient('swe-lsp', 'SWE-LSP', server, options);
    // The extension asks for an issue's text when "Resolve issue..." comes without one, so the
    // server may offer that action (it does not to clients that cannot ask).
    client.registerFeature({
      fillClientCapabilities: (caps) => {
        caps.experimental = { ...(caps.experimental as object | undefined), [SECTION]: { issuePrompt: true } };
      },
      initialize: () => undefined,
      getState: () => ({ kind: 'static' }),
      clear: () => undefined,
    });
    client.onNotification(P.JOB_UPDATED, (job: P.JobView) => {
      this.jobs.update(job);
    });
    await client.start();
    this.languageClient = client;
    return client;
  }

  async restart(): Promise<void> {
    const old = this.languageClient;
    this.languageClient = undefined;
    this.starting = undefined;
    if (old) {
      await old.stop().catch((err: unknown) => {
        this.output.warn(`stopping the server: ${String(err)}`);
      });
    }
    await this.client();
  }

  async settingsChanged(): Promise<void> {
    const now = settingsFor();
    if (needsRestart(this.settings, now)) {
      await this.restart();
    } else if (this.languageClient) {
      await this.languageClient.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
    }
    this.settings = now;
  }

  private async executeServerCommand<T>(command: string, arg: unknown): Promise<T> {
    const client = await this.client();
    return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] })) as T;
  }

  readonly reviewClient: ReviewClient = {
    candidates: async (jobId) => (await this.client()).sendRequest<P.CandidatesResult>(P.CANDIDATES, { jobId }),
    apply: (jobId, rank, hunks) => this.executeServerCommand<P.ApplyResult>(P.APPLY_CANDIDATE, { jobId, rank, ...(hunks ? { hunks } : {}) }),
  };

  /** Start a job (asking for the issue text when `args` has none); returns its id. */
  /** The TODO/FIXME under the cursor as the server reads it (its preferred code action there), to
   * start the issue box with; '' when there is none or the server does not answer. */
  private async todoAt(editor: vscode.TextEditor): Promise<string> {
    try {
      const client = await this.client();
      const line = editor.selection.active.line;
      const actions = await client.sendRequest<{ isPreferred?: boolean; command?: { arguments?: { issue?: string }[] } }[] | null>(
        'textDocument/codeAction',
        {
          textDocument: { uri: editor.document.uri.toString() },
          range: { start: { line, character: 0 }, end: { line, character: 0 } },
          context: { diagnostics: [] },
        },
      );
      return actions?.find((a) => a.isPreferred === true && a.command?.arguments?.[0]?.issue)?.command?.arguments?.[0]?.issue ?? '';
    } catch {
      return '';
    }
  }

  async resolve(args: Partial<P.ResolveIssueArgs>): Promise<string | undefined> {
    let issue = args.issue;
    if (!issue) {
      const editor = vscode.window.activeTextEditor;
      const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection).trim() : '';
      issue = await vscode.window.showInputBox({
        title: 'SWE-LSP: Resolve Issue',
        prompt: 'Describe the issue to resolve (an issue text, a traceback, what should change)',
        value: selected || (editor ? await this.todoAt(editor) : ''),
        ignoreFocusOut: true,
      });
      if (!issue?.trim()) {
        return undefined;
      }
      if (!args.uri && editor) {
        const s = editor.selection;
        args = { ...args, uri: editor.document.uri.toString(), range: { start: { line: s.start.line, character: s.start.character }, end: { line: s.end.line, character: s.end.character } } };
      }
    }
    const client = await this.client();
    const token = `swe-lsp-vscode-${randomUUID()}`;
    // Subscribe before asking: the server may report before its answer arrives.
    const early: ProgressValue[] = [];
    let sink: ((v: ProgressValue) => void) | undefined;
    const subscription = client.onProgress(WorkDoneProgress.type, token, (value: ProgressValue) => {
      if (sink) {
        sink(value);
      } else {
        early.push(value);
      }
    });
    let jobId: string;
    try {
      ({ jobId } = await this.executeServerCommand<{ jobId: string }>(P.RESOLVE_ISSUE, { ...args, issue, workDoneToken: token }));
    } catch (err) {
      subscription.dispose();
      throw err;
    }
    const finished = showJobProgress(
      this.jobs,
      jobId,
      (onValue) => {
        sink = onValue;
        // Replayed once the caller holds the subscription (an early `end` disposes it).
        queueMicrotask(() => {
          early.splice(0).forEach(onValue);
        });
        return subscription;
      },
      () => this.executeServerCommand(P.CANCEL, { jobId }),
    );
    void finished.then((job) => announceFinished(job, (id) => this.review(id)));
    return jobId;
  }

  review(jobId: string): Promise<P.ApplyResult | undefined> {
    return reviewJob(this.reviewClient, jobId);
  }

  /** Pick a job among the server's (this workspace's) that `keep` accepts; the only one at once. */
  async pickJob(keep: (job: P.JobView) => boolean, none: string): Promise<string | undefined> {
    const client = await this.client();
    const { jobs } = await client.sendRequest<{ jobs: P.JobView[] }>(P.JOBS, {});
    const list = jobs.filter(keep).sort((a, b) => b.updated - a.updated);
    const [only, ...others] = list;
    if (!only) {
      void vscode.window.showInformationMessage(none);
      return undefined;
    }
    if (others.length === 0) {
      return only.jobId;
    }
    const picked = await vscode.window.showQuickPick(list.map((job) => ({ ...jobItem(job), jobId: job.jobId })), { title: 'SWE-LSP: jobs' });
    return picked?.jobId;
  }

  async showCandidates(arg?: { jobId?: string }): Promise<P.ApplyResult | undefined> {
    const jobId = arg?.jobId ?? (await this.pickJob((j) => j.state === 'done' && j.candidates > 0, 'SWE-LSP: no job has candidates to review.'));
    return jobId ? this.review(jobId) : undefined;
  }

  async cancel(arg?: { jobId?: string }): Promise<void> {
    const jobId = arg?.jobId ?? (await this.pickJob((j) => !P.isFinal(j.state), 'SWE-LSP: no job is running.'));
    if (jobId) {
      await this.executeServerCommand(P.CANCEL, { jobId });
    }
  }

  dispose(): void {
    void this.languageClient?.stop();
    this.jobs.dispose();
    this.environment.dispose();
    this.output.dispose();
  }
}

export function activate(context: vscode.ExtensionContext): SweLspApi {
  const ext = new Extension();
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R | undefined> => {
      try {
        return await fn(...args);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        ext.output.error(message);
        void vscode.window.showErrorMessage(`SWE-LSP: ${message}`, 'Show Server Log').then((choice) => {
          if (choice) {
            ext.output.show(true);
          }
        });
        return undefined;
      }
    };
  context.subscriptions.push(
    ext,
    reviewSteps,
    vscode.commands.registerCommand('swe-lsp.resolveIssuePrompt', guard((args?: Partial<P.ResolveIssueArgs>) => ext.resolve(args ?? {}))),
    vscode.commands.registerCommand('swe-lsp.showCandidates', guard((arg?: { jobId?: string }) => ext.showCandidates(arg))),
    vscode.commands.registerCommand('swe-lsp.cancelJob', guard((arg?: { jobId?: string }) => ext.cancel(arg))),
    vscode.commands.registerCommand('swe-lsp.showServerLog', () => {
      ext.output.show(true);
    }),
    vscode.commands.registerCommand('swe-lsp.restartServer', guard(() => ext.restart())),
    vscode.commands.registerCommand('swe-lsp.checkSandboxEnvironment', guard((tests?: string[]) => ext.environment.run(tests))),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) {
        void guard(() => ext.settingsChanged())();
      }
    }),
    // Trusting the folder lets its swe-lsp.toml (and its restricted swe-lsp.* settings) apply: the
    // server is told with the configuration it pulls, the command line may change too.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      void guard(() => ext.settingsChanged())();
    }),
  );
  // Start at once: the server indexes the workspace while the user types.
  void guard(() => ext.client())();
  return {
    client: () => ext.client(),
    resolve: (args) => ext.resolve(args),
    waitForJob: (jobId) => ext.jobs.waitFinal(jobId),
    progressOf: (jobId) => ext.jobs.progressOf(jobId),
    review: (jobId) => ext.review(jobId),
    onReviewStep: reviewSteps.event,
    checkEnvironment: (tests) => ext.environment.run(tests),
    environmentProgress: () => [...ext.environment.progress],
  };
}

export function deactivate(): void {
  // The subscriptions stop the client.
}
