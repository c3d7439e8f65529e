import assert from 'node:assert/strict';
import { test } from 'node:test';
import { candidateItem, environmentMessage, evidenceText, finishedMessage, hunkItem, progressMessage, stderrLevel, verificationLine } from '../../src/format';
import { type CandidateView, type EnvCheckView, type EvidenceView, type JobView, isFinal } from '../../src/protocol';

function evidence(over: Partial<EvidenceView> = {}): EvidenceView {
  return {
    verified: false,
    reproduced: null,
    reproBeforeExit: null,
    reproAfterExit: null,
    testsCommand: null,
    testsExit: null,
    testsOutputTail: '',
    reproScript: null,
    prmScores: {},
    ormScore: null,
    votes: 1,
    notes: [],
    ...over,
  };
}

function candidate(over: Partial<CandidateView> = {}): CandidateView {
  return {
    rank: 0,
    score: 0.912,
    summary: 'fix add',
    files: ['calc.py'],
    diff: '--- a/calc.py\n+++ b/calc.py\n',
    hunks: [{ id: 'calc.py#0', path: 'calc.py', header: 'def add(a, b):', sourceStart: 3, sourceLength: 1 }],
    evidence: evidence(),
    documents: { 'calc.py': { base: 'swe-lsp:/j/base/calc.py', candidate: 'swe-lsp:/j/0/calc.py' } },
    edit: null,
    editError: null,
    ...over,
  };
}

function job(over: Partial<JobView> = {}): JobView {
  return {
    jobId: 'abc',
    state: 'running',
    stage: 'localize',
    message: 'localize (4/7): searching',
    fraction: 0.5,
    issue: 'add subtracts',
    path: null,
    workspace: '/ws',
    candidates: 0,
    cost: { promptTokens: 1000, completionTokens: 234, modelCalls: 3, sandboxSeconds: 0, wallSeconds: 2.5, stages: {} },
    error: null,
    created: 0,
    updated: 0,
    ...over,
  };
}

test('a verified candidate whose tests passed says so, with its rank (1-based) and score', () => {
  const item = candidateItem(
    candidate({ evidence: evidence({ verified: true, reproduced: true, reproBeforeExit: 1, reproAfterExit: 0, testsExit: 0 }) }),
  );
  assert.equal(item.label, '$(pass-filled) #1  fix add');
  assert.equal(item.description, 'score 0.91');
  assert.equal(item.detail, 'verified · reproduced (exit 1 → 0) · tests passed · 1 file, 1 hunk');
});

test('an unverified candidate with failing tests and a stale edit says all three', () => {
  const item = candidateItem(
    candidate({ rank: 2, summary: '', evidence: evidence({ testsExit: 2 }), editError: 'calc.py changed since the snapshot' }),
  );
  assert.equal(item.label, '$(circle-large-outline) #3  calc.py');
  assert.match(item.detail, /^not verified · tests failed \(exit 2\) · 1 file, 1 hunk · cannot apply: calc.py changed/);
});

test('tests that did not run are not reported as passed', () => {
  assert.equal(verificationLine(evidence({ verified: true })), 'verified · tests not run');
  assert.equal(verificationLine(evidence({ reproduced: false })), 'not verified · not reproduced · tests not run');
});

test('evidence text lists the scores, notes and test output', () => {
  const text = evidenceText(
    evidence({ testsCommand: 'pytest -q', testsExit: 0, prmScores: { localize: 0.75 }, ormScore: -1.5, votes: 3, notes: ['refined once'], testsOutputTail: '1 passed\n' }),
  );
  assert.equal(text, 'not verified · tests passed\ntests: pytest -q\nPRM: localize 0.75\nORM: -1.50\nvotes: 3\nnote: refined once\n\n1 passed');
});

test('hunk items name the file and the lines', () => {
  assert.deepEqual(hunkItem({ id: 'a.py#1', path: 'a.py', header: ' def f():', sourceStart: 10, sourceLength: 4 }), {
    label: 'a.py: lines 10-13',
    description: 'def f():',
  });
});

test('job messages: progress, and how the job ended', () => {
  assert.equal(progressMessage(job()), 'localize: localize (4/7): searching');
  assert.equal(progressMessage(job({ stage: null, message: null, state: 'queued' })), 'queued');
  assert.equal(
    finishedMessage(job({ state: 'done', candidates: 2 })),
    'SWE-LSP: 2 candidates ready to review (3 model calls, 1,234 tokens, 2.5 s).',
  );
  assert.match(finishedMessage(job({ state: 'done', candidates: 0 })), /found no candidate patch/);
  assert.match(
    finishedMessage(job({ state: 'done', candidates: 0, message: 'no candidate: patch: 2 unparsed' })),
    /found no candidate patch: patch: 2 unparsed \(/,
  );
  assert.equal(finishedMessage(job({ state: 'failed', error: 'the worker died' })), 'SWE-LSP: the job failed: the worker died');
  assert.equal(isFinal('running'), false);
  assert.equal(isFinal('interrupted'), true);
});

function envCheck(over: Partial<EnvCheckView> = {}): EnvCheckView {
  return {
    checkId: 'c1',
    workspace: '/ws',
    kind: 'auto',
    python: { chosen: '3.11', source: 'nothing declared: the default', wanted: null, note: null, text: 'Python 3.11' },
    sources: [],
    steps: [],
    notes: [],
    runner: { name: 'pytest', reason: 'pytest.ini', command: ['python3', '-m', 'pytest'] },
    image: { tag: 'swe-lsp-env:abc', base: 'swe-lsp-base:bookworm', cached: true, dockerProblem: null },
    sandbox: 'docker',
    build: { image: 'swe-lsp-env:abc', built: false, seconds: 0.1, error: null },
    tests: null,
    cancelled: false,
    ok: true,
    summary: 'environment reused; tests: 2 passed in 0.5 s',
    text: '',
    ...over,
  };
}

test('environment check messages: passed, failing tests, a failed build, cancelled', () => {
  assert.deepEqual(environmentMessage(envCheck()), {
    level: 'info',
    text: 'SWE-LSP: environment reused; tests: 2 passed in 0.5 s (Python 3.11, pytest).',
  });
  assert.equal(environmentMessage(envCheck({ ok: false })).level, 'warning');
  const failed = environmentMessage(envCheck({ ok: false, build: { image: null, built: true, seconds: 3, error: { step: 'requirements', tail: 'x', message: 'm' } } }));
  assert.equal(failed.level, 'error');
  assert.match(failed.text, /did not build \(step 'requirements'\)/);
  assert.equal(environmentMessage(envCheck({ ok: false, cancelled: true })).text, 'SWE-LSP: the environment check was cancelled.');
});

test("the server's stderr lines keep their log level; a traceback keeps its record's", () => {
  assert.equal(stderrLevel('2026-12-02 04:19:28,582 INFO swe_lsp.server.indexing: index ready', undefined), 'info');
  assert.equal(stderrLevel('2026-12-02 04:19:27,414 WARNING swe_lsp.server: not trusted', 'info'), 'warn');
  assert.equal(stderrLevel('2026-12-02 04:19:27,414 ERROR pygls: failed', 'info'), 'error');
  assert.equal(stderrLevel('Traceback (most recent call last):', 'error'), 'error');
  assert.equal(stderrLevel('(EngineCore pid=1) INFO vllm says', undefined), 'info');
});
