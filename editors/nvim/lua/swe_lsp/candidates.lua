--- Reviewing a job's ranked candidates: pick one (`vim.ui.select`), preview it (the unified diff in
--- a floating window, or each file beside the candidate's version under `:diffthis`), and apply it
--- (`swe-lsp.applyCandidate`: the server sends `workspace/applyEdit`, which Neovim applies to the
--- buffers at once, without writing them).
local config = require('swe_lsp.config')
local progress = require('swe_lsp.progress')
local util = require('swe_lsp.util')
local notify, err_msg = util.notify, util.err_msg

local M = {}

--- The candidate last previewed: `{jobId, rank}` (the default of :SweApply).
M.previewed = nil

local function lsp()
  return require('swe_lsp')
end

--- `swe-lsp/candidates {jobId}`: `cb(err, {jobId, state, candidates})`.
function M.fetch(job_id, cb)
  lsp().request('swe-lsp/candidates', { jobId = job_id }, cb)
end

--- `:SweCandidates [jobId]`: choose a candidate, then preview it. `cb(cand|nil)` after the choice.
---@param job_id string|nil
---@param cb function|nil
function M.pick(job_id, cb)
  local function go(id)
    if not id then
      notify('no swe-lsp job with candidates yet (:SweResolve starts one)', vim.log.levels.WARN)
      return cb and cb(nil)
    end
    progress.current = id
    M.fetch(id, function(err, result)
      if err then
        notify('swe-lsp/candidates failed: ' .. err_msg(err), vim.log.levels.ERROR)
        return cb and cb(nil)
      end
      local cands = result and result.candidates or {}
      if #cands == 0 then
        notify(string.format('job %s (%s) has no candidates', id, result and result.state or '?'))
        return cb and cb(nil)
      end
      vim.ui.select(cands, { prompt = 'Candidates of job ' .. id, format_item = util.format_candidate },
        function(cand)
          if cand then
            M.preview(id, cand)
          end
          if cb then
            cb(cand)
          end
        end)
    end)
  end
  require('swe_lsp.commands').default_job(go, job_id)
end

local function scratch(lines, name, ft)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].modifiable = false
  if ft then
    vim.bo[buf].filetype = ft
  end
  pcall(vim.api.nvim_buf_set_name, buf, name)
  return buf
end

local function preview_float(job_id, cand)
  local buf = scratch(util.preview_lines(cand), string.format('swe-lsp://%s/%d.diff', job_id, cand.rank), 'diff')
  local f = config.options.float
  local width = math.max(40, math.floor(vim.o.columns * f.width))
  local height = math.max(5, math.min(vim.api.nvim_buf_line_count(buf), math.floor(vim.o.lines * f.height)))
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = width,
    height = height,
    row = math.floor((vim.o.lines - height) / 2),
    col = math.floor((vim.o.columns - width) / 2),
    border = f.border,
    style = 'minimal',
    title = string.format(' candidate %d of job %s: a apply, s split, q close ', cand.rank, job_id),
    title_pos = 'center',
  })
  local map = function(lhs, fn)
    vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true })
  end
  local close = function()
    if vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_close(win, true)
    end
  end
  map('q', close)
  map('<Esc>', close)
  map('a', function()
    close()
    M.apply(job_id, cand.rank)
  end)
  map('s', function()
    close()
    M.preview_split(job_id, cand)
  end)
  return buf, win
end

--- Each file of a candidate in its own tab: the file's buffer beside the candidate's version of it
--- (from the server's `swe-lsp:` document), both under `:diffthis`. `cb()` once all are open.
---@param job_id string
---@param cand table
---@param cb function|nil
function M.preview_split(job_id, cand, cb)
  local root = (lsp().client() or {}).root_dir or vim.fn.getcwd()
  local files = cand.files or {}
  local i = 0
  local function next_file()
    i = i + 1
    local path = files[i]
    if not path then
      return cb and cb()
    end
    local doc = (cand.documents or {})[path] or {}
    lsp().request('workspace/textDocumentContent', { uri = doc.candidate }, function(err, result)
      if err or not result then
        notify('cannot read the candidate version of ' .. path .. ': ' .. err_msg(err), vim.log.levels.ERROR)
        return next_file()
      end
      vim.cmd.tabnew(vim.fn.fnameescape(vim.fs.joinpath(root, path)))
      local ft = vim.bo.filetype
      vim.cmd.diffthis()
      vim.cmd('rightbelow vnew')
      local text = (result.text or ''):gsub('\n$', '')
      local buf = vim.api.nvim_get_current_buf()
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, '\n', { plain = true }))
      vim.bo[buf].buftype, vim.bo[buf].bufhidden, vim.bo[buf].modifiable = 'nofile', 'wipe', false
      vim.bo[buf].filetype = ft
      pcall(vim.api.nvim_buf_set_name, buf, string.format('swe-lsp://%s/%d/%s', job_id, cand.rank, path))
      vim.cmd.diffthis()
      vim.keymap.set('n', 'a', function()
        M.apply(job_id, cand.rank)
      end, { buffer = buf, nowait = true })
      next_file()
    end)
  end
  next_file()
end

--- Preview a candidate the configured way ('float' or 'split').
---@param job_id string
---@param cand table
---@param how string|nil
function M.preview(job_id, cand, how)
  M.previewed = { jobId = job_id, rank = cand.rank }
  if (how or config.options.preview) == 'split' then
    return M.preview_split(job_id, cand)
  end
  return preview_float(job_id, cand)
end

--- `swe-lsp.applyCandidate {jobId, rank, hunks?}`: `cb(err, {applied, failureReason?})`. The
--- buffers change; nothing is written to disk until the user writes them.
---@param job_id string
---@param rank integer
---@param hunks string[]|nil
---@param cb function|nil
function M.apply(job_id, rank, hunks, cb)
  lsp().exec('swe-lsp.applyCandidate', { jobId = job_id, rank = rank, hunks = hunks }, function(err, result)
    if err then
      notify('apply failed: ' .. err_msg(err), vim.log.levels.ERROR)
    elseif result and result.applied then
      notify(string.format('applied candidate %d of job %s (buffers changed, not written)', rank, job_id))
    else
      notify('not applied: ' .. tostring(result and result.failureReason), vim.log.levels.WARN)
    end
    if cb then
      cb(err, result)
    end
  end)
end

--- `:SweApply [rank] [jobId]`: the previewed candidate by default, else rank 0 of the current job.
---@param fargs string[]
---@param cb function|nil
function M.apply_command(fargs, cb)
  local rank, job_id, usage = util.parse_apply_args(fargs)
  if usage then
    return notify(usage, vim.log.levels.ERROR)
  end
  local prev = M.previewed
  local function go(id)
    if not id then
      return notify('no swe-lsp job to apply from', vim.log.levels.WARN)
    end
    local r = rank or (prev and prev.jobId == id and prev.rank) or 0
    M.apply(id, r, nil, cb)
  end
  require('swe_lsp.commands').default_job(go, job_id)
end

return M
