-- End to end with the embedded model (slow): :SweResolve on a fixture workspace starts a job,
-- LspProgress begin and end arrive for its token, the job ends `done` (swe-lsp/jobUpdated), and
-- :SweJobs lists it. Whether the weak model finds a candidate is not asserted.
local E = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/common.lua')
local t = E.t

local progress, updates = {}, {}
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local p = ev.data.params
    progress[#progress + 1] = { token = p.token, kind = p.value.kind, message = p.value.message }
  end,
})
vim.api.nvim_create_autocmd('User', {
  pattern = 'SweLspJobUpdated',
  callback = function(ev)
    updates[#updates + 1] = ev.data
  end,
})

local buf = E.open('calc.py', {
  init_options = {
    search = { budget = 1, beam = 1, max_localization_rounds = 1, max_refinements = 0, max_tokens = 96 },
    sandbox = { kind = os.getenv('SWE_NVIM_SANDBOX') or 'local', timeout_s = 120 },
  },
})

-- The statusline as the user sees it, sampled while the job runs: it must say the model is loading
-- (the first job loads it) rather than nothing or "ready".
local statuses = {}
local sampler = vim.fn.timer_start(25, function()
  local s = require('swe_lsp').status()
  if s ~= '' and s ~= statuses[#statuses] then
    statuses[#statuses + 1] = s
  end
end, { ['repeat'] = -1 })

local job_id
t.test(':SweResolve starts a job', function()
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  vim.cmd('SweResolve add() subtracts its arguments instead of adding them')
  job_id = t.wait(30000, function()
    return require('swe_lsp.progress').current
  end, 'swe-lsp.resolveIssue to answer with a jobId')
  t.log('job ' .. job_id)
end)

local final
t.test('the job runs to done, with progress begin and end', function()
  t.ok(job_id, 'a job was started')
  final = t.wait(840000, function()
    for i = #updates, 1, -1 do
      local u = updates[i]
      if u.jobId == job_id and require('swe_lsp.util').is_final(u.state) then
        return u
      end
    end
  end, 'job ' .. tostring(job_id) .. ' to finish')
  t.log('final: ' .. vim.inspect({ state = final.state, candidates = final.candidates, error = final.error }))
  t.eq('done', final.state, 'final state (error: ' .. tostring(final.error) .. ')')
  t.ok(final.cost.modelCalls > 0, 'the model was called')
  local token = 'swe-lsp/job/' .. job_id
  local kinds = t.wait(10000, function()
    local ks = {}
    for _, p in ipairs(progress) do
      if p.token == token then
        ks[#ks + 1] = p.kind
      end
    end
    return ks[#ks] == 'end' and ks
  end, 'the progress end for ' .. token)
  t.eq('begin', kinds[1])
  t.ok(vim.tbl_contains(kinds, 'report'), 'progress reports: ' .. vim.inspect(kinds))
  t.eq('', require('swe_lsp').status(), 'statusline once the job ended')
  vim.fn.timer_stop(sampler)
  t.log('statusline: ' .. vim.inspect(statuses))
  local loading = vim.tbl_filter(function(s)
    return s:find('load') ~= nil
  end, statuses)
  t.ok(#loading > 0, 'the statusline said the model was loading: ' .. vim.inspect(statuses))
end)

t.test(':SweJobs lists the finished job', function()
  local before = #E.selects
  E.pick = nil
  vim.cmd('SweJobs')
  local sel = t.wait(20000, function()
    return E.selects[before + 1]
  end, ':SweJobs to offer the jobs')
  t.eq(job_id, sel.items[1].jobId)
  t.eq('done', sel.items[1].state)
  if final.candidates == 0 and type(sel.items[1].message) == 'string'
      and sel.items[1].message:match('^no candidate') then
    t.contains(sel.shown[1], 'done: no candidate') -- where the candidates were lost
  else
    t.contains(sel.shown[1], 'done, ' .. final.candidates .. ' candidate(s)')
  end
  t.contains(sel.shown[1], 'add() subtracts its arguments')
  t.eq(vim.fn.readfile(E.ws .. '/calc.py'), vim.api.nvim_buf_get_lines(buf, 0, -1, false), 'buffer untouched')
end)

E.finish()
