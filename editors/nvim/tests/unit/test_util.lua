-- Unit tests of the pure helpers: nvim --headless --clean -l editors/nvim/tests/unit/test_util.lua
local t = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h') .. '/harness.lua')
local util = require('swe_lsp.util')

local DIFF = table.concat({
  'diff --git a/calc.py b/calc.py',
  '--- a/calc.py',
  '+++ b/calc.py',
  '@@ -1,3 +1,3 @@',
  ' def add(a, b):',
  '-    return a - b',
  '+    return a + b',
  'diff --git a/pkg/new.py b/pkg/new.py',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/pkg/new.py',
  '@@ -0,0 +1 @@',
  '+x = 1',
  '',
}, '\n')

t.test('selection_text: charwise cuts at the columns, inclusive end', function()
  t.eq('a - b', util.selection_text({ '    return a - b' }, 12, 16, 'v'))
  t.eq('b):\n    ret', util.selection_text({ 'def add(a, b):', '    return a - b' }, 12, 7, 'v'))
end)

t.test('selection_text: linewise and blockwise', function()
  t.eq('one\ntwo', util.selection_text({ 'one', 'two' }, 2, 2, 'V'))
  t.eq('one\ntwo', util.selection_text({ 'one', 'two' }, 1, 3, ''))
  t.eq('ne\nwo', util.selection_text({ 'one', 'two' }, 3, 2, '\22'))
  t.eq('', util.selection_text({}, 1, 1, 'v'))
end)

t.test('dedent trims and removes common indentation', function()
  t.eq('if x:\n    y()', util.dedent('    if x:\n        y()\n'))
  t.eq('a\n\nb', util.dedent('  a\n\n  b'))
end)

t.test('format_candidate: rank, score, verdict, files, summary', function()
  local line = util.format_candidate({
    rank = 0, score = 0.9, files = { 'calc.py', 'b.py' }, summary = 'replace a-b with a+b',
    evidence = { verified = true },
  })
  t.eq('#0  0.90  verified  calc.py, b.py  replace a-b with a+b', line)
  t.eq('#3  -  unverified  x', util.format_candidate({ rank = 3, files = { 'x' } }))
  t.contains(util.format_candidate({ rank = 1, score = 0.5, files = {}, evidence = { reproduced = true } }),
    'reproduced, not verified')
end)

t.test('format_evidence lists what ran and the scores', function()
  local lines = util.format_evidence({
    verified = true, reproBeforeExit = 1, reproAfterExit = 0, testsCommand = 'pytest tests/test_calc.py',
    testsExit = 0, prmScores = { localize = 0.7, understand = 0.81 }, ormScore = 1.25, votes = 2,
    notes = { 'refined once' },
  })
  t.eq({
    'Evidence: verified',
    '  reproduction: exit 1 before the patch, 0 after',
    '  tests: pytest tests/test_calc.py (exit 0)',
    '  PRM: localize 0.70, understand 0.81',
    '  ORM: 1.250',
    '  votes: 2',
    '  note: refined once',
  }, lines)
  t.eq({ 'Evidence: unverified' }, util.format_evidence(nil))
end)

t.test('split_diff: one section per file, new-side paths', function()
  local files = util.split_diff(DIFF)
  t.eq(2, #files)
  t.eq('calc.py', files[1].path)
  t.eq(7, #files[1].lines)
  t.eq('+    return a + b', files[1].lines[7])
  t.eq('pkg/new.py', files[2].path)
  t.eq('+x = 1', files[2].lines[#files[2].lines])
  t.eq({}, util.split_diff(''))
end)

t.test('split_diff: plain unified diffs without git headers', function()
  local files = util.split_diff('--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n--- a/y.py\n+++ b/y.py\n@@ -1 +1 @@\n-c\n+d\n')
  t.eq({ 'x.py', 'y.py' }, { files[1].path, files[2].path })
  t.eq(5, #files[2].lines)
end)

t.test('preview_lines: header, evidence, then the diff', function()
  local lines = util.preview_lines({ rank = 0, score = 0.5, files = { 'calc.py' }, diff = DIFF,
    evidence = { verified = false }, editError = vim.NIL })
  t.eq('#0  0.50  unverified  calc.py', lines[1])
  t.eq('Evidence: unverified', lines[2])
  t.eq('', lines[3])
  t.eq('diff --git a/calc.py b/calc.py', lines[4])
  t.eq('+x = 1', lines[#lines])
  local stale = util.preview_lines({ rank = 0, files = {}, diff = '', editError = 'calc.py changed' })
  t.contains(stale, 'Cannot apply as things stand: calc.py changed')
end)

t.test('format_job: state, progress or candidates, issue, id', function()
  t.eq(string.format('%-28s  %s  [%s]', 'done, 2 candidate(s)', 'fix it', 'j1'),
    util.format_job({ jobId = 'j1', state = 'done', candidates = 2, issue = 'fix it\nplease' }))
  t.contains(util.format_job({ jobId = 'j2', state = 'running', stage = 'localize', fraction = 0.42, issue = 'x' }),
    'localize 42%')
  t.contains(util.format_job({ jobId = 'j3', state = 'failed', error = 'boom', issue = 'x' }), 'failed: boom')
  t.contains(util.format_job({ jobId = 'j4', state = 'running', stage = vim.NIL, fraction = 0, issue = 'x' }),
    'running')
  -- No candidate: the server's message says where they were lost.
  t.contains(util.format_job({ jobId = 'j5', state = 'done', candidates = 0, issue = 'x',
    message = 'no candidate: patch: 2 unparsed' }), 'done: no candidate: patch: 2 unparsed')
  t.contains(util.format_job({ jobId = 'j6', state = 'done', candidates = 0, issue = 'x', message = vim.NIL }),
    'done, 0 candidate(s)')
end)

t.test('job_of_token and is_final', function()
  t.eq('abc-1', util.job_of_token('swe-lsp/job/abc-1'))
  t.eq(nil, util.job_of_token('other/abc'))
  t.eq(nil, util.job_of_token(12))
  t.ok(util.is_final('done') and util.is_final('cancelled') and util.is_final('interrupted'), 'final states')
  t.ok(not util.is_final('running') and not util.is_final('queued'), 'active states')
end)

t.test('parse_apply_args', function()
  t.eq({ nil, nil, nil }, { util.parse_apply_args({}) })
  t.eq({ 2, nil, nil }, { util.parse_apply_args({ '2' }) })
  t.eq({ 1, 'job-7', nil }, { util.parse_apply_args({ '1', 'job-7' }) })
  t.eq({ nil, 'job-7', nil }, { util.parse_apply_args({ 'job-7' }) })
  local _, _, err = util.parse_apply_args({ 'a', 'b', 'c' })
  t.contains(err, 'usage')
end)

t.test('config: defaults, overrides, unknown keys rejected', function()
  local config = require('swe_lsp.config')
  local o = config.set({ cmd = { '/x/swe-lsp', 'serve' }, init_options = { search = { budget = 2 } } })
  t.eq({ '/x/swe-lsp', 'serve' }, o.cmd)
  t.eq(2, o.init_options.search.budget)
  t.eq('float', o.preview)
  t.ok(not pcall(config.set, { nope = 1 }), 'unknown option is an error')
  t.ok(not pcall(config.set, { preview = 'tab' }), 'bad preview is an error')
  config.set({})
end)

t.run()
