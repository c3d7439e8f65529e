-- The commands' editor side with no server running: the issue and range from :SweResolve's
-- arguments, a visual selection, a line range or the TODO under the cursor; :SweResolve with no
-- text asks for it; commands without a server say so; :checkhealth swe_lsp runs.
local t = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h') .. '/harness.lua')
vim.cmd.runtime('plugin/swe_lsp.lua')
local commands = require('swe_lsp.commands')

local LINES = {
  'def add(a, b):',
  '    """Add two numbers."""',
  '    return a - b',
  '',
  'def mul(a, b):',
  '    # TODO: handle None arguments',
  '    return a * b',
}

local buf = vim.api.nvim_create_buf(true, false)
vim.api.nvim_set_current_buf(buf)
vim.api.nvim_buf_set_lines(buf, 0, -1, false, LINES)

local function select_visual(mode, from, to)
  vim.api.nvim_win_set_cursor(0, from)
  vim.cmd('normal! ' .. mode)
  vim.api.nvim_win_set_cursor(0, to)
  vim.cmd('normal! \27') -- leave visual mode: sets '< '> and visualmode()
end

t.test('explicit text wins; no range, no TODO: nothing (the user is asked)', function()
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  t.eq({ 'add subtracts', nil }, { commands.issue_of_command({ args = ' add subtracts ', range = 0 }, buf) })
  t.eq({ nil, nil }, { commands.issue_of_command({ args = '', range = 0 }, buf) })
end)

t.test('a charwise visual selection becomes the issue, with its range', function()
  select_visual('v', { 3, 11 }, { 3, 15 })
  local issue, range = commands.issue_of_command({ args = '', range = 2, line1 = 3, line2 = 3 }, buf)
  t.eq('a - b', issue)
  t.eq({ start = { line = 2, character = 11 }, ['end'] = { line = 2, character = 16 } }, range)
end)

t.test('a linewise selection takes whole lines, dedented', function()
  select_visual('V', { 2, 0 }, { 3, 0 })
  local issue, range = commands.issue_of_command({ args = '', range = 2, line1 = 2, line2 = 3 }, buf)
  t.eq('"""Add two numbers."""\nreturn a - b', issue)
  t.eq({ start = { line = 1, character = 0 }, ['end'] = { line = 2, character = 16 } }, range)
end)

t.test('a :range with text keeps the text and sends the range', function()
  local issue, range = commands.issue_of_command({ args = 'mul ignores None', range = 2, line1 = 5, line2 = 7 }, buf)
  t.eq('mul ignores None', issue)
  t.eq(4, range.start.line)
  t.eq(6, range['end'].line)
end)

t.test(':SweResolve with nothing to go on asks for the issue', function()
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  local asked
  local input = vim.ui.input
  vim.ui.input = function(opts, on_confirm)
    asked = opts.prompt
    on_confirm(nil) -- the user cancels
  end
  vim.cmd('SweResolve')
  vim.ui.input = input
  t.eq('Issue to resolve: ', asked)
end)

t.test('commands without a server report it', function()
  local got
  commands.resolve({ issue = 'x' }, function(err)
    got = err
  end)
  t.contains(got.message, 'swe-lsp is not running')
end)

t.test(':SweCheckEnvironment without a server reports it; its summary and report buffer', function()
  local env = require('swe_lsp.environment')
  local got
  env.check({ 'tests/test_a.py::test_x' }, function(err)
    got = err
  end)
  t.contains(got.message, 'swe-lsp is not running')
  t.eq(false, env.running)
  local levels = vim.log.levels
  local base = { python = { chosen = '3.9' }, runner = { name = 'pytest' }, build = { error = vim.NIL } }
  t.eq({ 'environment reused; tests: 2 passed in 1.0 s (Python 3.9, pytest)', levels.INFO },
    { env.summary(vim.tbl_extend('force', base, { ok = true, summary = 'environment reused; tests: 2 passed in 1.0 s' })) })
  t.eq(levels.WARN, select(2, env.summary(vim.tbl_extend('force', base, { ok = false, summary = 'x' }))))
  local text, level = env.summary(vim.tbl_extend('force', base,
    { ok = false, build = { error = { step = 'requirements', tail = '', message = '' } } }))
  t.contains(text, "did not build (step 'requirements')")
  t.eq(levels.ERROR, level)
  local buf = env.show('python: Python 3.9\n  tests/test_a.py::test_x  passed')
  t.eq({ 'python: Python 3.9', '  tests/test_a.py::test_x  passed' }, vim.api.nvim_buf_get_lines(buf, 0, -1, false))
  t.ok(vim.api.nvim_buf_get_name(buf):find('swe%-lsp://environment$'), 'buffer name')
  vim.cmd.close()
end)

t.test('the code action command asks for the missing issue text', function()
  require('swe_lsp').setup({ cmd = { 'swe-lsp-not-installed', 'serve' } })
  local asked
  local input = vim.ui.input
  vim.ui.input = function(opts, on_confirm)
    asked = opts.prompt
  end
  vim.lsp.commands['swe-lsp.resolveIssue']({ command = 'swe-lsp.resolveIssue', arguments = { { uri = 'file:///x' } } }, {})
  vim.ui.input = input
  t.eq('Issue to resolve: ', asked)
end)

t.test(':checkhealth swe_lsp reports a missing server', function()
  vim.cmd('checkhealth swe_lsp')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  t.contains(text, 'swe-lsp: setup')
  t.contains(text, 'server `swe-lsp-not-installed` not found')
  vim.cmd.bwipeout({ bang = true })
end)

t.test(':checkhealth swe_lsp with the real server reports Python, model and Docker', function()
  local server = os.getenv('SWE_NVIM_SERVER')
  if not server then
    return t.log('  (skipped: SWE_NVIM_SERVER not set)')
  end
  require('swe_lsp').setup({ cmd = { server, 'serve' } })
  vim.cmd('checkhealth swe_lsp')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  t.contains(text, 'server: ' .. server)
  t.contains(text, 'on Python 3.')
  t.contains(text, 'model smollm2-135m')
  t.contains(text, 'Docker: ')
end)

t.run()
