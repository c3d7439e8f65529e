--- What the user commands do: resolve an issue, cancel a job, list jobs, apply a candidate. Every
--- call is asynchronous; the optional `cb` gets the server's answer (tests and scripts use it).
local progress = require('swe_lsp.progress')
local util = require('swe_lsp.util')
local notify, err_msg = util.notify, util.err_msg

local M = {}

local function lsp()
  return require('swe_lsp')
end

--- A UTF-16 column of a 0-based byte column in a line (LSP positions count UTF-16 units).
local function utf16(line, col)
  col = math.min(col, #line)
  if vim.fn.has('nvim-0.11') == 1 then
    return vim.str_utfindex(line, 'utf-16', col, false)
  end
  local _, u16 = vim.str_utfindex(line, col)
  return u16
end

--- Start a job: `swe-lsp.resolveIssue {issue, uri?, range?, budget?}`; `cb(err, {jobId})`.
---@param args {issue: string, uri?: string, range?: table, budget?: integer, model?: string}
---@param cb fun(err: table|nil, result: table|nil)|nil
function M.resolve(args, cb)
  lsp().exec('swe-lsp.resolveIssue', args, function(err, result)
    if err then
      notify('resolve failed: ' .. err_msg(err), vim.log.levels.ERROR)
    elseif result and result.jobId then
      progress.current = result.jobId
      progress.jobs[result.jobId] = progress.jobs[result.jobId]
        or { jobId = result.jobId, state = 'queued', issue = args.issue, created = os.time() }
      if require('swe_lsp.config').options.notify then
        notify('job ' .. result.jobId .. ' started: ' .. util.title(args.issue, 60))
      end
    end
    if cb then
      cb(err, result)
    end
  end)
end

--- The issue of `:SweResolve [text]` (with its range, if any): the text given, else the selected
--- text; nil means ask the server for the TODO/FIXME under the cursor (`todo_at_cursor`), then
--- the user.
---@param opts table the user command's opts (`args`, `range`, `line1`, `line2`)
---@param bufnr integer
---@return string|nil issue, table|nil lsp_range
function M.issue_of_command(opts, bufnr)
  local issue = vim.trim(opts.args or '')
  local range
  if opts.range and opts.range > 0 then
    local l1, l2 = opts.line1, opts.line2
    local lines = vim.api.nvim_buf_get_lines(bufnr, l1 - 1, l2, false)
    local vstart, vend = vim.fn.getpos("'<"), vim.fn.getpos("'>")
    local mode = vim.fn.visualmode()
    local scol, ecol = 1, #(lines[#lines] or '')
    -- A visual selection on exactly these lines: cut at its columns.
    if vstart[2] == l1 and vend[2] == l2 and (mode == 'v' or mode == '\22') then
      scol, ecol = vstart[3], vend[3]
    else
      mode = 'V'
    end
    local text = util.selection_text(lines, scol, ecol, mode)
    local s_char = mode == 'V' and 0 or utf16(lines[1], scol - 1)
    local last = lines[#lines] or ''
    local e_char = mode == 'V' and utf16(last, #last) or utf16(last, ecol)
    range = { start = { line = l1 - 1, character = s_char }, ['end'] = { line = l2 - 1, character = e_char } }
    if issue == '' then
      issue = util.dedent(text)
    end
  end
  return issue ~= '' and issue or nil, range
end

--- The TODO/FIXME comment under the cursor as the server reads it (one home for what counts as
--- one: its code action for the cursor, the one it marks preferred); `cb(issue, range)`, both nil
--- when there is none or no server.
---@param bufnr integer
---@param cb fun(issue: string|nil, range: table|nil)
function M.todo_at_cursor(bufnr, cb)
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = row, character = 0 }, ['end'] = { line = row, character = 0 } },
    context = { diagnostics = {} },
  }
  lsp().request('textDocument/codeAction', params, function(err, actions)
    for _, action in ipairs(not err and actions or {}) do
      local args = action.isPreferred and action.command and (action.command.arguments or {})[1]
      if args and args.issue then
        return cb(args.issue, args.range)
      end
    end
    cb(nil, nil)
  end, bufnr)
end

--- `:SweResolve [text]` (range-aware).
---@param opts table user command opts
---@param cb function|nil
function M.resolve_command(opts, cb)
  local bufnr = vim.api.nvim_get_current_buf()
  local issue, range = M.issue_of_command(opts, bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local uri = name ~= '' and vim.uri_from_bufnr(bufnr) or nil
  local function go(text)
    if not text or vim.trim(text) == '' then
      return
    end
    M.resolve({ issue = text, uri = uri, range = uri and range or nil }, cb)
  end
  if issue then
    go(issue)
  elseif uri then
    M.todo_at_cursor(bufnr, function(todo, todo_range)
      if todo then
        range = todo_range
        go(todo)
      else
        vim.ui.input({ prompt = 'Issue to resolve: ' }, go)
      end
    end)
  else
    vim.ui.input({ prompt = 'Issue to resolve: ' }, go)
  end
end

--- Register the client-side handler of the code action's command: the generic "Resolve issue..."
--- action has no issue text (a server cannot prompt for free text), so ask for it here.
function M.register_client_commands()
  vim.lsp.commands['swe-lsp.resolveIssue'] = function(command)
    local args = vim.deepcopy((command.arguments or {})[1] or {})
    if args.issue and vim.trim(args.issue) ~= '' then
      M.resolve(args)
    else
      vim.ui.input({ prompt = 'Issue to resolve: ' }, function(text)
        if text and vim.trim(text) ~= '' then
          args.issue = text
          M.resolve(args)
        end
      end)
    end
  end
end

--- `:SweCancel [jobId]`: the server's cancel command (Neovim has no cancel button and never sends
--- `window/workDoneProgress/cancel`). Without an id: the running job, or a choice of them.
---@param job_id string|nil
---@param cb function|nil `cb(err, result)`
function M.cancel(job_id, cb)
  local function go(id)
    lsp().exec('swe-lsp.cancel', { jobId = id }, function(err, result)
      if err then
        notify('cancel failed: ' .. err_msg(err), vim.log.levels.ERROR)
      else
        notify('job ' .. id .. ': ' .. tostring(result and result.state))
      end
      if cb then
        cb(err, result)
      end
    end)
  end
  if job_id then
    return go(job_id)
  end
  local running = progress.running()
  if #running == 0 then
    notify('no swe-lsp job is running', vim.log.levels.WARN)
  elseif #running == 1 then
    go(running[1].jobId)
  else
    vim.ui.select(running, { prompt = 'Cancel which job?', format_item = util.format_job }, function(job)
      if job then
        go(job.jobId)
      end
    end)
  end
end

--- Fetch the jobs of this workspace (newest first): `cb(err, jobs)`; updates the known jobs.
---@param cb fun(err: table|nil, jobs: table[]|nil)
function M.fetch_jobs(cb)
  lsp().request('swe-lsp/jobs', vim.empty_dict(), function(err, result)
    local jobs = result and result.jobs or nil
    for _, job in ipairs(jobs or {}) do
      progress.jobs[job.jobId] = job
    end
    cb(err, jobs)
  end)
end

--- `:SweJobs`: pick a job; a finished one with candidates opens them, a running one can be
--- cancelled.
---@param cb function|nil called with the chosen job (or nil)
function M.jobs(cb)
  M.fetch_jobs(function(err, jobs)
    if err then
      notify('swe-lsp/jobs failed: ' .. err_msg(err), vim.log.levels.ERROR)
      return cb and cb(nil)
    end
    if not jobs or #jobs == 0 then
      notify('no swe-lsp jobs in this workspace')
      return cb and cb(nil)
    end
    vim.ui.select(jobs, { prompt = 'swe-lsp jobs', format_item = util.format_job }, function(job)
      if job then
        progress.current = job.jobId
        if not util.is_final(job.state) then
          vim.ui.select({ 'Cancel it', 'Keep it running' }, { prompt = 'Job ' .. job.jobId .. ' is ' .. job.state },
            function(choice)
              if choice == 'Cancel it' then
                M.cancel(job.jobId)
              end
            end)
        elseif (job.candidates or 0) > 0 then
          require('swe_lsp.candidates').pick(job.jobId)
        else
          notify(util.format_job(job))
        end
      end
      if cb then
        cb(job)
      end
    end)
  end)
end

--- The job :SweCandidates and :SweApply act on: `job_id` when given, else the current one, else
--- the newest finished job with candidates. `cb(job_id | nil)`.
---@param cb fun(job_id: string|nil)
---@param job_id string|nil
function M.default_job(cb, job_id)
  if job_id then
    return cb(job_id)
  end
  if progress.current then
    return cb(progress.current)
  end
  M.fetch_jobs(function(err, jobs)
    if err then
      notify('swe-lsp/jobs failed: ' .. err_msg(err), vim.log.levels.ERROR)
      return
    end
    for _, job in ipairs(jobs or {}) do
      if job.state == 'done' and (job.candidates or 0) > 0 then
        return cb(job.jobId)
      end
    end
    cb(nil)
  end)
end

return M
