--- `:SweCheckEnvironment [TEST ...]`: the server builds (or reuses) the workspace's sandbox
--- environment and runs the project's tests there (`swe-lsp.checkEnvironment`), so the user learns
--- before a job whether candidates can be verified. The build's lines arrive as `$/progress`
--- (statusline, fidget.nvim); the report opens in a scratch buffer and `vim.notify` sums it up.
--- `:SweCheckEnvironment!` cancels the running check (Neovim has no progress Cancel button).
local M = {}
local util = require('swe_lsp.util')
local notify, err_msg = util.notify, util.err_msg

--- The last check's result (the server's JSON), or nil.
M.last = nil
--- Whether a check started here is still running.
M.running = false

local BUFFER = 'swe-lsp://environment'

--- The notification of a result: its text and level (an environment that did not build is an
--- error; failing tests or a cancellation a warning).
---@param result table
---@return string, integer
function M.summary(result)
  local levels = vim.log.levels
  local build_error = result.build and result.build.error
  if type(build_error) == 'table' then
    return string.format("the sandbox environment did not build (step '%s'); candidates cannot be verified yet",
      build_error.step), levels.ERROR
  end
  if result.cancelled then
    return 'the environment check was cancelled', levels.WARN
  end
  local where = string.format('Python %s, %s', result.python and result.python.chosen or '?',
    result.runner and result.runner.name or '?')
  return string.format('%s (%s)', result.summary or '', where), result.ok and levels.INFO or levels.WARN
end

--- Show the report in a scratch buffer of its own (replaced by the next check) in a split.
---@param text string
---@return integer bufnr
function M.show(text)
  local old = vim.fn.bufnr(BUFFER)
  if old ~= -1 then
    pcall(vim.api.nvim_buf_delete, old, { force = true })
  end
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text or '', '\n', { plain = true }))
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, BUFFER)
  vim.cmd('botright split')
  vim.api.nvim_win_set_buf(0, buf)
  return buf
end

--- Run a check of `tests` (all the project's tests when empty): `cb(err, result)`.
---@param tests string[]|nil
---@param cb fun(err: table|nil, result: table|nil)|nil
function M.check(tests, cb)
  local args = (tests and #tests > 0) and { tests = tests } or vim.empty_dict()
  M.running = true
  notify('checking the sandbox environment (:SweCheckEnvironment! cancels)')
  require('swe_lsp').exec('swe-lsp.checkEnvironment', args, function(err, result)
    M.running = false
    if err then
      notify('environment check failed: ' .. err_msg(err), vim.log.levels.ERROR)
    elseif type(result) == 'table' then
      M.last = result
      M.show(result.text)
      notify(M.summary(result))
    end
    if cb then
      cb(err, result)
    end
  end)
end

--- Cancel the running check: `cb(err, {cancelled})`.
---@param cb fun(err: table|nil, result: table|nil)|nil
function M.cancel(cb)
  require('swe_lsp').exec('swe-lsp.cancelEnvironmentCheck', vim.empty_dict(), function(err, result)
    if err then
      notify('cancel failed: ' .. err_msg(err), vim.log.levels.ERROR)
    elseif result and not result.cancelled then
      notify('no environment check is running', vim.log.levels.WARN)
    end
    if cb then
      cb(err, result)
    end
  end)
end

--- `:SweCheckEnvironment[!] [TEST ...]`.
---@param opts table user command opts
---@param cb function|nil
function M.command(opts, cb)
  if opts.bang then
    return M.cancel(cb)
  end
  M.check(opts.fargs, cb)
end

return M
