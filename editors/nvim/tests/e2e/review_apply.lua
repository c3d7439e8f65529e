-- End to end against the real server with a job the test seeded in the store (SWE_NVIM_JOB, one
-- candidate; SWE_NVIM_EXPECTED: calc.py as the candidate leaves it): :SweCandidates lists it, the
-- float and split previews show it, :SweApply changes the buffer exactly as the diff says, and the
-- file on disk only changes when the buffer is written.
local E = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/common.lua')
local t = E.t
local job_id = assert(os.getenv('SWE_NVIM_JOB'))
local expected = E.read(assert(os.getenv('SWE_NVIM_EXPECTED')))
local path = E.ws .. '/calc.py'
local original = E.read(path)

local buf = E.open('calc.py')

t.test(':SweJobs lists the seeded job as done with one candidate', function()
  local before = #E.selects
  E.pick = nil -- look, do not choose
  vim.cmd('SweJobs')
  local sel = t.wait(20000, function()
    return E.selects[before + 1]
  end, ':SweJobs to offer the jobs')
  E.pick = 1
  t.eq(1, #sel.items, 'jobs listed')
  t.eq(job_id, sel.items[1].jobId)
  t.contains(sel.shown[1], 'done, 1 candidate(s)')
end)

local float_lines
t.test(':SweCandidates lists the candidate and previews its diff in a float', function()
  local before = #E.selects
  vim.cmd('SweCandidates')
  local sel = t.wait(20000, function()
    return E.selects[before + 1]
  end, ':SweCandidates to offer the candidates')
  t.eq(1, #sel.items, 'candidates listed')
  t.eq(0, sel.items[1].rank)
  t.contains(sel.shown[1], '#0  0.90  verified  calc.py')
  local win = t.wait(20000, function()
    local w = vim.api.nvim_get_current_win()
    return vim.api.nvim_win_get_config(w).relative ~= '' and w
  end, 'the preview float to open')
  local fbuf = vim.api.nvim_win_get_buf(win)
  t.eq('diff', vim.bo[fbuf].filetype)
  float_lines = vim.api.nvim_buf_get_lines(fbuf, 0, -1, false)
  t.contains(float_lines, 'Evidence: verified')
  t.contains(float_lines, '-    return a - b')
  t.contains(float_lines, '+    return a + b')
  t.contains(float_lines, 'diff --git a/calc.py b/calc.py')
  vim.api.nvim_feedkeys('q', 'x', false) -- the float's own mapping closes it
  t.ok(not vim.api.nvim_win_is_valid(win), 'q closes the float')
end)

t.test('the split preview diffs the file against the candidate version', function()
  local cands
  require('swe_lsp.candidates').fetch(job_id, function(err, result)
    t.ok(not err, vim.inspect(err))
    cands = result.candidates
  end)
  t.wait(20000, function()
    return cands
  end, 'swe-lsp/candidates')
  local opened = false
  require('swe_lsp.candidates').preview_split(job_id, cands[1], function()
    opened = true
  end)
  t.wait(20000, function()
    return opened
  end, 'the split preview to open')
  local wins = vim.api.nvim_tabpage_list_wins(0)
  t.eq(2, #wins, 'windows in the preview tab')
  local left, right = vim.api.nvim_win_get_buf(wins[1]), vim.api.nvim_win_get_buf(wins[2])
  t.eq(buf, left, 'the file itself is on the left')
  t.ok(vim.wo[wins[1]].diff and vim.wo[wins[2]].diff, ':diffthis in both windows')
  t.eq(expected, E.buf_text(right), 'candidate version')
  t.eq('python', vim.bo[right].filetype)
  vim.cmd.tabclose()
  vim.cmd.diffoff({ bang = true })
end)

t.test(':SweApply 0 changes the buffer as the diff says; disk changes on :write', function()
  vim.api.nvim_set_current_buf(buf)
  t.eq(original, E.buf_text(buf), 'buffer before apply')
  vim.cmd('SweApply 0')
  t.wait(20000, function()
    return E.buf_text(buf) ~= original
  end, 'the applied edit to reach the buffer')
  t.eq(expected, E.buf_text(buf), 'buffer after apply')
  t.ok(vim.bo[buf].modified, 'the buffer is modified, not written')
  t.eq(original, E.read(path), 'disk before :write')
  t.wait(5000, function()
    return vim.tbl_contains(E.notes, 'applied candidate 0 of job ' .. job_id .. ' (buffers changed, not written)')
  end, 'the apply result notification')
  vim.cmd.write()
  t.eq(expected, E.read(path), 'disk after :write')
end)

t.test('applying again is refused as stale and changes nothing', function()
  local answer
  require('swe_lsp.candidates').apply(job_id, 0, nil, function(err, result)
    answer = { err = err, result = result }
  end)
  t.wait(20000, function()
    return answer
  end, 'the second apply to answer')
  t.eq(nil, answer.err)
  t.eq(false, answer.result.applied)
  t.contains(answer.result.failureReason, 'calc.py')
  t.eq(expected, E.buf_text(buf))
  t.eq(expected, E.read(path))
end)

E.finish()
