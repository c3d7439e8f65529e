/**
 * Reviewing a job's candidates: a QuickPick of the ranked candidates whose active item is shown as
 * one diff editor per changed file (the workspace file against the server's `swe-lsp:` document),
 * accepting applies it through the server (`swe-lsp.applyCandidate`, which sends
 * `workspace/applyEdit`); a candidate with several hunks asks which to apply.
 */

import * as vscode from 'vscode';
import { candidateItem, diffTitle, evidenceText, hunkItem } from './format';
import type { ApplyResult, CandidateView, CandidatesResult } from './protocol';

/** What the review needs from the language client. */
export interface ReviewClient {
  candidates(jobId: string): Promise<CandidatesResult>;
  apply(jobId: string, rank: number, hunks: string[] | undefined): Promise<ApplyResult>;
}

/** Fires when a picker of the review is shown ('candidates', 'hunks'): a seam for tests. */
export const reviewSteps = new vscode.EventEmitter<'candidates' | 'hunks'>();

interface CandidateItem extends vscode.QuickPickItem {
  candidate: CandidateView;
}

const EVIDENCE_BUTTON: vscode.QuickInputButton = {
  iconPath: new vscode.ThemeIcon('info'),
  tooltip: 'Show the evidence and the full diff',
};

/** The workspace file a candidate changes (its snapshot document `base` when the file does not exist). */
async function leftSide(path: string, base: string): Promise<vscode.Uri> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder) {
    const uri = vscode.Uri.joinPath(folder.uri, path);
    try {
      await vscode.workspace.fs.stat(uri);
      return uri;
    } catch {
      // A file the candidate creates: compare with the (empty) snapshot document.
    }
  }
  return vscode.Uri.parse(base);
}

/** Open one diff editor per file the candidate changes, keeping the focus on the picker. */
export async function showDiffs(c: CandidateView): Promise<void> {
  for (const path of c.files) {
    const docs = c.documents[path];
    if (!docs) {
      continue;
    }
    await vscode.commands.executeCommand('vscode.diff', await leftSide(path, docs.base), vscode.Uri.parse(docs.candidate), diffTitle(path, c), {
      preview: true,
      preserveFocus: true,
    });
  }
}

async function showEvidence(c: CandidateView): Promise<void> {
  const content = `${evidenceText(c.evidence)}\n\n${c.diff}`;
  const doc = await vscode.workspace.openTextDocument({ language: 'diff', content });
  await vscode.window.showTextDocument(doc, { preview: true, preserveFocus: true });
}

function pickCandidate(result: CandidatesResult): Promise<CandidateView | undefined> {
  const qp = vscode.window.createQuickPick<CandidateItem>();
  qp.title = `SWE-LSP: ${result.candidates.length} candidate(s) for job ${result.jobId}`;
  qp.placeholder = 'Enter applies the candidate; the highlighted one is shown as a diff';
  qp.ignoreFocusOut = true;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  qp.items = result.candidates.map((c) => ({ ...candidateItem(c), candidate: c, buttons: [EVIDENCE_BUTTON] }));
  const disposables: { dispose(): unknown }[] = [qp];
  return new Promise<CandidateView | undefined>((resolve) => {
    disposables.push(
      qp.onDidChangeActive((items) => {
        if (items[0]) {
          showDiffs(items[0].candidate).catch((err: unknown) => void vscode.window.showErrorMessage(`SWE-LSP: cannot show the diff: ${String(err)}`));
        }
      }),
      qp.onDidTriggerItemButton((e) => void showEvidence(e.item.candidate)),
      qp.onDidAccept(() => {
        resolve((qp.selectedItems[0] ?? qp.activeItems[0])?.candidate);
        qp.hide();
      }),
      qp.onDidHide(() => {
        resolve(undefined);
      }),
    );
    qp.show();
    reviewSteps.fire('candidates');
  }).finally(() => {
    for (const d of disposables) {
      d.dispose();
    }
  });
}

/** Which hunks to apply: undefined for all, [] when the user gave up. */
async function pickHunks(c: CandidateView): Promise<string[] | undefined> {
  if (c.hunks.length < 2) {
    return undefined;
  }
  const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { id: string }>();
  qp.title = `SWE-LSP: hunks of candidate #${c.rank + 1} to apply`;
  qp.placeholder = 'Uncheck the hunks to leave out; Enter applies the checked ones';
  qp.canSelectMany = true;
  qp.ignoreFocusOut = true;
  qp.items = c.hunks.map((h) => ({ ...hunkItem(h), id: h.id }));
  qp.selectedItems = qp.items;
  qp.activeItems = qp.items.slice(0, 1); // Space toggles the first hunk at once
  const chosen = await new Promise<readonly { id: string }[] | undefined>((resolve) => {
    qp.onDidAccept(() => {
      resolve(qp.selectedItems);
      qp.hide();
    });
    qp.onDidHide(() => {
      resolve(undefined);
    });
    qp.show();
    reviewSteps.fire('hunks');
  }).finally(() => {
    qp.dispose();
  });
  if (!chosen || chosen.length === 0) {
    return [];
  }
  return chosen.length === c.hunks.length ? undefined : chosen.map((h) => h.id);
}

/** The review of one job, ending in an apply (or nothing). */
export async function reviewJob(client: ReviewClient, jobId: string): Promise<ApplyResult | undefined> {
  const result = await client.candidates(jobId);
  if (result.candidates.length === 0) {
    void vscode.window.showInformationMessage(`SWE-LSP: job ${jobId} has no candidates (${result.state}).`);
    return undefined;
  }
  const chosen = await pickCandidate(result);
  if (!chosen) {
    return undefined;
  }
  if (chosen.editError) {
    void vscode.window.showErrorMessage(`SWE-LSP: candidate #${chosen.rank + 1} cannot be applied: ${chosen.editError}`);
    return { applied: false, failureReason: chosen.editError };
  }
  const hunks = await pickHunks(chosen);
  if (hunks?.length === 0) {
    return undefined;
  }
  const applied = await client.apply(jobId, chosen.rank, hunks);
  if (applied.applied) {
    void vscode.window.showInformationMessage(
      `SWE-LSP: applied candidate #${chosen.rank + 1}${hunks ? ` (${hunks.length} of ${chosen.hunks.length} hunks)` : ''}; review and save the changed files.`,
    );
  } else {
    void vscode.window.showWarningMessage(`SWE-LSP: candidate #${chosen.rank + 1} was not applied: ${applied.failureReason ?? 'no reason given'}`);
  }
  return applied;
}
