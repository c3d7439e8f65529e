-- End to end with Docker: :SweCheckEnvironment on the fixture workspace builds (or reuses) its
-- sandbox environment and runs its tests there; LspProgress begin and end arrive for the check's
-- token, the report opens in its buffer, and vim.notify sums it up (the buggy `add` fails its test).
local E = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/common.lua')
local t = E.t

local progress = {}
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local p = ev.data.params
    progress[#progress + 1] = { token = p.token, kind = p.value.kind, message = p.value.message }
  end,
})

E.open('calc.py', { init_options = { sandbox = { kind = 'docker', build_network = false } } })

local result
t.test(':SweCheckEnvironment builds the environment and runs the tests', function()
  vim.cmd('SweCheckEnvironment')
  result = t.wait(600000, function()
    return require('swe_lsp.environment').last
  end, 'swe-lsp.checkEnvironment to answer')
  t.eq('pytest', result.runner.name, 'runner')
  t.eq({ { id = 'test_calc.py::test_add', status = 'failed' } }, result.tests.results, 'per-test results')
  t.eq(false, result.ok, 'ok')
end)

t.test('the report opens in its buffer, and a notification sums it up', function()
  local buf = vim.fn.bufnr('swe-lsp://environment')
  t.ok(buf ~= -1, 'the report buffer')
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
  t.contains(text, 'python:       Python 3.11')
  t.contains(text, 'test_calc.py::test_add  failed')
  t.contains(E.notes, '1 failed')
end)

t.test('LspProgress begin and end for the check, with no second notification', function()
  local kinds = {}
  for _, p in ipairs(progress) do
    if type(p.token) == 'string' and p.token:match('^swe%-lsp/check/') then
      kinds[#kinds + 1] = p.kind
    end
  end
  t.eq('begin', kinds[1], 'first progress kind')
  t.eq('end', kinds[#kinds], 'last progress kind')
  local ends = 0
  for _, note in ipairs(E.notes) do
    if note:find('1 failed', 1, true) then
      ends = ends + 1
    end
  end
  t.eq(1, ends, 'notifications of the summary')
end)

t.test(':SweCheckEnvironment! with nothing running says so', function()
  local got
  require('swe_lsp.environment').cancel(function(err, res)
    got = { err = err, res = res }
  end)
  t.wait(10000, function()
    return got
  end, 'swe-lsp.cancelEnvironmentCheck to answer')
  t.eq(false, got.res.cancelled)
end)

E.finish()
