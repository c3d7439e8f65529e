/**
 * Jobs as the extension sees them: the latest `swe-lsp/jobUpdated` of each, waiters for a job's
 * end, and the progress notification with a Cancel button (vscode-languageclient only shows server
 * progress in the status bar, with no way to cancel).
 */

import * as vscode from 'vscode';
import type { WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport } from 'vscode-languageclient';
import { finishedMessage, progressMessage } from './format';
import { isFinal, type JobView } from './protocol';

type ProgressValue = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

export class JobTracker implements vscode.Disposable {
  private readonly latest = new Map<string, JobView>();
  private readonly waiters = new Map<string, ((job: JobView) => void)[]>();
  private readonly progress = new Map<string, string[]>();
  private readonly changed = new vscode.EventEmitter<JobView>();
  /** Fires on every job update. */
  readonly onDidChange = this.changed.event;

  /** Take a `swe-lsp/jobUpdated` notification. */
  update(job: JobView): void {
    this.latest.set(job.jobId, job);
    this.changed.fire(job);
    if (isFinal(job.state)) {
      for (const resolve of this.waiters.get(job.jobId) ?? []) {
        resolve(job);
      }
      this.waiters.delete(job.jobId);
    }
  }

  /** The job's last known state, if any update came. */
  get(jobId: string): JobView | undefined {
    return this.latest.get(jobId);
  }

  /** Resolves with the job's final update (at once if it is already final). */
  waitFinal(jobId: string): Promise<JobView> {
    const known = this.latest.get(jobId);
    if (known && isFinal(known.state)) {
      return Promise.resolve(known);
    }
    return new Promise((resolve) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push(resolve);
      this.waiters.set(jobId, list);
    });
  }

  /** The `$/progress` messages seen for a job, in order ("begin: ...", "report: ...", "end: ..."). */
  progressOf(jobId: string): string[] {
    return [...(this.progress.get(jobId) ?? [])];
  }

  /** Record a `$/progress` value of a job. */
  recordProgress(jobId: string, value: ProgressValue): void {
    const list = this.progress.get(jobId) ?? [];
    const text = value.kind === 'begin' ? `${value.title}${value.message ? `: ${value.message}` : ''}` : (value.message ?? '');
    list.push(`${value.kind}: ${text}`);
    this.progress.set(jobId, list);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/**
 * Show a job's progress as a notification until it ends; Cancel calls `cancel`. `values` is fed the
 * job's `$/progress` values (begin/report/end). Resolves with the job's final update.
 */
export function showJobProgress(
  tracker: JobTracker,
  jobId: string,
  subscribe: (onValue: (value: ProgressValue) => void) => vscode.Disposable,
  cancel: () => Promise<void>,
): Promise<JobView> {
  return Promise.resolve(
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'SWE-LSP: resolving issue', cancellable: true },
      async (progress, token) => {
        let last = 0;
        const report = (message: string, percentage?: number): void => {
          const pct = Math.max(last, Math.min(100, percentage ?? last));
          progress.report({ message, increment: pct - last });
          last = pct;
        };
        // Kept until the progress ends, which may come after the job's final update; a server
        // that dies before that takes the subscription with it. The notification's text comes from
        // `swe-lsp/jobUpdated` alone (one format, no flicker between the two reports).
        const subscription = subscribe((value) => {
          tracker.recordProgress(jobId, value);
          if (value.kind === 'end') {
            subscription.dispose();
          }
        });
        const updates = tracker.onDidChange((job) => {
          if (job.jobId === jobId && !isFinal(job.state)) {
            report(progressMessage(job), Math.round(job.fraction * 100));
          }
        });
        const onCancel = token.onCancellationRequested(() => {
          report('cancelling…');
          cancel().catch((err: unknown) => void vscode.window.showErrorMessage(`SWE-LSP: cancel failed: ${String(err)}`));
        });
        try {
          return await tracker.waitFinal(jobId);
        } finally {
          updates.dispose();
          onCancel.dispose();
        }
      },
    ),
  );
}

/** Tell the user how a job ended; offer the review when it has candidates. */
export async function announceFinished(job: JobView, review: (jobId: string) => Promise<unknown>): Promise<void> {
  const message = finishedMessage(job);
  if (job.state === 'done' && job.candidates > 0) {
    const choice = await vscode.window.showInformationMessage(message, 'Show Candidates');
    if (choice === 'Show Candidates') {
      await review(job.jobId);
    }
  } else if (job.state === 'done' || job.state === 'cancelled') {
    void vscode.window.showInformationMessage(message);
  } else {
    void vscode.window.showErrorMessage(message);
  }
}
