/**
 * Text for the review UI: candidate QuickPick items, evidence, job progress. No `vscode` import
 * (codicons are plain `$(name)` strings), so the unit tests run it under plain Node.
 */

import type { CandidateView, EnvCheckView, EvidenceView, HunkView, JobView } from './protocol';

/** "passed", "failed (exit 2)" or undefined when the regression tests did not run. */
export function testsOutcome(ev: EvidenceView): string | undefined {
  if (ev.testsExit === null) {
    return undefined;
  }
  return ev.testsExit === 0 ? 'passed' : `failed (exit ${ev.testsExit})`;
}

/** One line on how a candidate was checked: verified or not, the reproduction, the tests. */
export function verificationLine(ev: EvidenceView): string {
  const parts = [ev.verified ? 'verified' : 'not verified'];
  if (ev.reproduced === true) {
    parts.push(`reproduced (exit ${ev.reproBeforeExit ?? '?'} → ${ev.reproAfterExit ?? '?'})`);
  } else if (ev.reproduced === false) {
    parts.push('not reproduced');
  }
  const tests = testsOutcome(ev);
  parts.push(tests === undefined ? 'tests not run' : `tests ${tests}`);
  return parts.join(' · ');
}

/** The evidence in full, as plain text (the QuickPick item's tooltip and the log). */
export function evidenceText(ev: EvidenceView): string {
  const lines = [verificationLine(ev)];
  if (ev.testsCommand) {
    lines.push(`tests: ${ev.testsCommand}`);
  }
  const prm = Object.entries(ev.prmScores);
  if (prm.length > 0) {
    lines.push(`PRM: ${prm.map(([stage, score]) => `${stage} ${score.toFixed(2)}`).join(', ')}`);
  }
  if (ev.ormScore !== null) {
    lines.push(`ORM: ${ev.ormScore.toFixed(2)}`);
  }
  if (ev.votes > 1) {
    lines.push(`votes: ${ev.votes}`);
  }
  for (const note of ev.notes) {
    lines.push(`note: ${note}`);
  }
  if (ev.testsOutputTail) {
    lines.push('', ev.testsOutputTail.trimEnd());
  }
  return lines.join('\n');
}

/** The QuickPick item of a candidate: label, description, detail. */
export function candidateItem(c: CandidateView): { label: string; description: string; detail: string } {
  const icon = c.evidence.verified ? '$(pass-filled)' : '$(circle-large-outline)';
  const summary = c.summary || c.files.join(', ') || 'empty patch';
  const files = c.files.length === 1 ? '1 file' : `${c.files.length} files`;
  const hunks = c.hunks.length === 1 ? '1 hunk' : `${c.hunks.length} hunks`;
  const detail = [verificationLine(c.evidence), `${files}, ${hunks}`];
  if (c.editError) {
    detail.push(`cannot apply: ${c.editError}`);
  }
  return {
    label: `${icon} #${c.rank + 1}  ${summary}`,
    description: `score ${c.score.toFixed(2)}`,
    detail: detail.join(' · '),
  };
}

/** The QuickPick item of one hunk (for a partial apply). */
export function hunkItem(h: HunkView): { label: string; description: string } {
  const lines = h.sourceLength === 1 ? `line ${h.sourceStart}` : `lines ${h.sourceStart}-${h.sourceStart + Math.max(h.sourceLength, 1) - 1}`;
  return { label: `${h.path}: ${lines}`, description: h.header.trim() };
}

/** The title of the diff editor of one file of a candidate. */
export function diffTitle(path: string, c: CandidateView): string {
  const base = path.split('/').pop() ?? path;
  return `${base} ↔ candidate #${c.rank + 1} (score ${c.score.toFixed(2)})`;
}

/** Cost in a few words: "3 model calls, 1,234 tokens, 2.5 s". */
export function costText(job: JobView): string {
  const c = job.cost;
  const tokens = c.promptTokens + c.completionTokens;
  const parts = [`${c.modelCalls} model call${c.modelCalls === 1 ? '' : 's'}`, `${tokens.toLocaleString('en-US')} tokens`];
  if (c.sandboxSeconds > 0) {
    parts.push(`${c.sandboxSeconds.toFixed(1)} s in the sandbox`);
  }
  parts.push(`${c.wallSeconds.toFixed(1)} s`);
  return parts.join(', ');
}

/** The progress notification's message for a job update. */
export function progressMessage(job: JobView): string {
  const stage = job.stage ? `${job.stage}: ` : '';
  const message = job.message && job.message !== job.stage ? job.message : '';
  return `${stage}${message}`.replace(/: $/, '') || job.state;
}

/** Where a job's candidates were lost, as the server tells it (`no candidate: patch: 2 unparsed`). */
function lostWhere(job: JobView): string {
  const prefix = 'no candidate: ';
  return job.message?.startsWith(prefix) ? `: ${job.message.slice(prefix.length)}` : '';
}

/** What the user is told when a job ends. */
export function finishedMessage(job: JobView): string {
  switch (job.state) {
    case 'done':
      return job.candidates > 0
        ? `SWE-LSP: ${job.candidates} candidate${job.candidates === 1 ? '' : 's'} ready to review (${costText(job)}).`
        : `SWE-LSP: the search found no candidate patch${lostWhere(job)} (${costText(job)}).`;
    case 'cancelled':
      return 'SWE-LSP: the job was cancelled.';
    case 'interrupted':
      return 'SWE-LSP: the job was interrupted (the server stopped while it ran).';
    default:
      return `SWE-LSP: the job ${job.state}: ${job.error ?? job.message ?? 'no reason given'}`;
  }
}

/** The label of a job in the job picker. */
export function jobItem(job: JobView): { label: string; description: string; detail: string } {
  const issue = job.issue.replace(/\s+/g, ' ').trim();
  return {
    label: issue.length > 70 ? `${issue.slice(0, 69)}…` : issue,
    description: `${job.state} · ${job.candidates} candidate${job.candidates === 1 ? '' : 's'}`,
    detail: `${job.jobId}${job.path ? ` · ${job.path}` : ''} · ${new Date(job.updated * 1000).toLocaleString('en-US')}`,
  };
}

/** The issue text an input box starts with: the selection, collapsed to one line if long. */
export function prefillIssue(selection: string): string {
  const text = selection.trim();
  return text.length > 2000 ? text.slice(0, 2000) : text;
}

/** How an environment check ended, for its notification: 'info' when the tests pass, 'warning'
 * when the environment is there but a test fails (or it was cancelled), 'error' when it did not
 * build. */
export function environmentMessage(check: EnvCheckView): { level: 'info' | 'warning' | 'error'; text: string } {
  const where = `Python ${check.python.chosen}, ${check.runner.name}`;
  if (check.build.error) {
    return { level: 'error', text: `SWE-LSP: the sandbox environment did not build (step '${check.build.error.step}'); candidates cannot be verified yet.` };
  }
  if (check.cancelled) {
    return { level: 'warning', text: 'SWE-LSP: the environment check was cancelled.' };
  }
  return { level: check.ok ? 'info' : 'warning', text: `SWE-LSP: ${check.summary} (${where}).` };
}

/** The levels of the server's log lines, as its formatter writes them:
 * `2026-12-02 04:19:27,414 WARNING swe_lsp.server...: message`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) /;
const LEVELS: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', CRITICAL: 'error' };

/** The level of one line of the server's stderr: its own when it is a log record, else the level of
 * the record it continues (a traceback's lines), else `info` (what libraries print). */
export function stderrLevel(line: string, previous: LogLevel | undefined): LogLevel {
  const match = LOG_LINE.exec(line);
  if (match?.[1] !== undefined) {
    return LEVELS[match[1]] ?? 'info';
  }
  return previous ?? 'info';
}
