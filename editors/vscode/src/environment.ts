/**
 * "SWE-LSP: Check Sandbox Environment": asks the server to build (or reuse) the workspace's
 * sandbox environment and run the project's tests there (`swe-lsp.checkEnvironment`), so the user
 * learns before a job whether candidates can be verified. The build's lines show in a progress
 * notification whose Cancel calls `swe-lsp.cancelEnvironmentCheck`; the report goes to its own
 * output channel, and a notification sums it up.
 */

import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient, WorkDoneProgress, type WorkDoneProgressBegin, type WorkDoneProgressEnd, type WorkDoneProgressReport } from 'vscode-languageclient/node';
import { environmentMessage } from './format';
import * as P from './protocol';

type ProgressValue = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

export class EnvironmentCheck implements vscode.Disposable {
  private channel: vscode.OutputChannel | undefined;
  /** The `$/progress` messages of the last check, in order (for the end-to-end tests). */
  readonly progress: string[] = [];

  constructor(private readonly client: () => Promise<LanguageClient>) {}

  /** Run a check (of `tests`, else all the project's tests); resolves with its result, shown. */
  async run(tests: string[] = []): Promise<P.EnvCheckView | undefined> {
    const client = await this.client();
    const token = `swe-lsp-vscode-check-${randomUUID()}`;
    this.progress.length = 0;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'SWE-LSP: checking the sandbox environment', cancellable: true },
      async (progress, cancel) => {
        let last = 0;
        const subscription = client.onProgress(WorkDoneProgress.type, token, (value: ProgressValue) => {
          this.progress.push(`${value.kind}: ${value.kind === 'begin' ? value.title : (value.message ?? '')}`);
          if (value.kind !== 'end') {
            const pct = Math.max(last, Math.min(100, value.percentage ?? last));
            progress.report({ message: value.message ?? '', increment: pct - last });
            last = pct;
          }
        });
        const onCancel = cancel.onCancellationRequested(() => {
          progress.report({ message: 'cancelling…' });
          client.sendRequest(ExecuteCommandRequest.type, { command: P.CANCEL_ENVIRONMENT_CHECK, arguments: [] }).catch((err: unknown) => {
            void vscode.window.showErrorMessage(`SWE-LSP: cancel failed: ${String(err)}`);
          });
        });
        try {
          return (await client.sendRequest(ExecuteCommandRequest.type, {
            command: P.CHECK_ENVIRONMENT,
            arguments: [{ tests, workDoneToken: token }],
          })) as P.EnvCheckView;
        } finally {
          subscription.dispose();
          onCancel.dispose();
        }
      },
    );
    this.show(result);
    return result;
  }

  /** The report in the output channel, and a notification with its summary. */
  private show(result: P.EnvCheckView): void {
    this.channel ??= vscode.window.createOutputChannel('SWE-LSP: Sandbox Environment');
    this.channel.clear();
    this.channel.appendLine(result.text);
    this.channel.show(true);
    const { level, text } = environmentMessage(result);
    const shown =
      level === 'info'
        ? vscode.window.showInformationMessage(text, 'Show Report')
        : level === 'warning'
          ? vscode.window.showWarningMessage(text, 'Show Report')
          : vscode.window.showErrorMessage(text, 'Show Report');
    void shown.then((choice) => {
      if (choice) {
        this.channel?.show(false);
      }
    });
  }

  dispose(): void {
    this.channel?.dispose();
  }
}
