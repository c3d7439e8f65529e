/**
 * The JSON shapes of swe-lsp's custom LSP surface (see swe_lsp/server/views.py and protocol.py),
 * and the method and command names. No `vscode` import: the unit tests load this under plain Node.
 */

/** Requests (client -> server). */
export const JOBS = 'swe-lsp/jobs';
export const CANDIDATES = 'swe-lsp/candidates';
export const CANDIDATE_DIFF = 'swe-lsp/candidateDiff';
/** Notification (server -> client). */
export const JOB_UPDATED = 'swe-lsp/jobUpdated';
/** Server commands (workspace/executeCommand). */
export const RESOLVE_ISSUE = 'swe-lsp.resolveIssue';
export const CANCEL = 'swe-lsp.cancel';
export const APPLY_CANDIDATE = 'swe-lsp.applyCandidate';
export const DISCARD_JOB = 'swe-lsp.discardJob';
export const DEBUG_INFO = 'swe-lsp.debugInfo';
export const CHECK_ENVIRONMENT = 'swe-lsp.checkEnvironment';
export const CANCEL_ENVIRONMENT_CHECK = 'swe-lsp.cancelEnvironmentCheck';
/** The scheme of the candidate documents the server serves (workspace/textDocumentContent). */
export const SCHEME = 'swe-lsp';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

export interface StageCost {
  promptTokens: number;
  completionTokens: number;
  modelCalls: number;
  sandboxSeconds: number;
  wallSeconds: number;
}

export interface CostView extends StageCost {
  stages: Record<string, StageCost>;
}

export interface JobView {
  jobId: string;
  state: JobState;
  stage: string | null;
  message: string | null;
  fraction: number;
  issue: string;
  path: string | null;
  workspace: string;
  candidates: number;
  cost: CostView;
  error: string | null;
  created: number;
  updated: number;
}

export interface EvidenceView {
  verified: boolean;
  reproduced: boolean | null;
  reproBeforeExit: number | null;
  reproAfterExit: number | null;
  testsCommand: string | null;
  testsExit: number | null;
  testsOutputTail: string;
  reproScript: string | null;
  prmScores: Record<string, number>;
  ormScore: number | null;
  votes: number;
  notes: string[];
}

export interface HunkView {
  id: string;
  path: string;
  header: string;
  sourceStart: number;
  sourceLength: number;
}

export interface CandidateView {
  rank: number;
  score: number;
  summary: string;
  files: string[];
  diff: string;
  hunks: HunkView[];
  evidence: EvidenceView;
  /** path -> the `swe-lsp:` URIs of the snapshot's text and of the candidate's text. */
  documents: Record<string, { base: string; candidate: string }>;
  edit: unknown;
  editError: string | null;
}

export interface CandidatesResult {
  jobId: string;
  state: JobState;
  candidates: CandidateView[];
}

export interface ResolveIssueArgs {
  issue: string;
  uri?: string;
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
  budget?: number;
  model?: string;
  workDoneToken?: string | number;
}

export interface ApplyResult {
  applied: boolean;
  failureReason?: string;
}

/** `swe-lsp.checkEnvironment`'s answer (swe_lsp/sandbox/env_check.py, `EnvCheck.to_json`). */
export interface EnvCheckView {
  checkId: string;
  workspace: string;
  kind: string;
  python: { chosen: string; source: string; wanted: string | null; note: string | null; text: string };
  sources: string[];
  steps: { name: string; command: string; why: string; optional: boolean }[];
  notes: string[];
  runner: { name: string; reason: string; command: string[] };
  image: { tag: string; base: string; cached: boolean | null; dockerProblem: string | null };
  sandbox: string;
  build: { image: string | null; built: boolean; seconds: number; error: { step: string; tail: string; message: string } | null };
  tests: {
    command: string[];
    exitCode: number | null;
    timedOut: boolean;
    cancelled: boolean;
    seconds: number;
    parsed: boolean;
    results: { id: string; status: string }[];
    counts: Record<string, number>;
    summary: string;
    outputTail: string;
  } | null;
  cancelled: boolean;
  ok: boolean;
  summary: string;
  /** The whole report as plain text. */
  text: string;
}

const FINAL: ReadonlySet<string> = new Set(['done', 'failed', 'cancelled', 'interrupted']);

/** Whether a job in this state will not change any more. */
export function isFinal(state: string): boolean {
  return FINAL.has(state);
}
