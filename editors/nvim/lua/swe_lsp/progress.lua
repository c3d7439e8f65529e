--- Following jobs: the server's `$/progress` reaches Neovim's own handler, which fires
--- `LspProgress` (fidget.nvim and statuslines read the same events); this module keeps the latest
--- message per job for `status()`, and the jobs as `swe-lsp/jobUpdated` describes them. Each job
--- update is re-broadcast as `User SweLspJobUpdated` (data: the job) for statuslines and scripts.
local util = require('swe_lsp.util')

local M = {}

--- jobId -> the latest job view from `swe-lsp/jobUpdated` (or `swe-lsp/jobs`).
M.jobs = {}
--- The job the user started or looked at last: the default of :SweCandidates, :SweApply, :SweCancel.
M.current = nil
--- progress token -> { title, message, percentage } of bars still open.
M.active = {}

local function notify(msg, level)
  if require('swe_lsp.config').options.notify then
    vim.notify(msg, level or vim.log.levels.INFO, { title = 'swe-lsp' })
  end
end

local function is_ours(client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.name == require('swe_lsp').name
end

--- Handle one `LspProgress` event's data (`{client_id, params = {token, value}}`).
---@param data table
function M.on_progress(data)
  if not data or not data.params or not is_ours(data.client_id) then
    return
  end
  local token, value = data.params.token, data.params.value or {}
  local bar = M.active[token] or {}
  if value.kind == 'begin' then
    bar.title = value.title
  end
  bar.message = value.message or bar.message
  bar.percentage = value.percentage or bar.percentage
  if value.kind == 'end' then
    M.active[token] = nil
    local job = util.job_of_token(token)
    -- An environment check's end is told with its report (swe_lsp.environment).
    if type(token) ~= 'string' or not token:match('^swe%-lsp/check/') then
      notify(string.format('%s%s', job and ('job ' .. job .. ': ') or '', value.message or 'finished'))
    end
  else
    M.active[token] = bar
  end
  pcall(vim.cmd.redrawstatus)
end

--- Record a job update (from `swe-lsp/jobUpdated`).
---@param job table
---@param client_id integer|nil
function M.job_updated(job, client_id)
  if type(job) ~= 'table' or not job.jobId then
    return
  end
  local before = M.jobs[job.jobId]
  M.jobs[job.jobId] = job
  if util.is_final(job.state) and (before == nil or before.state ~= job.state) and job.state == 'failed' then
    notify('job ' .. job.jobId .. ' failed: ' .. tostring(job.error ~= vim.NIL and job.error or job.message),
      vim.log.levels.WARN)
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'SweLspJobUpdated', data = job, modeline = false })
end

--- Jobs that are queued or running, newest first.
---@return table[]
function M.running()
  local out = {}
  for _, job in pairs(M.jobs) do
    if not util.is_final(job.state) then
      out[#out + 1] = job
    end
  end
  table.sort(out, function(a, b)
    return (a.created or 0) > (b.created or 0)
  end)
  return out
end

--- A statusline string: `swe-lsp: localize (4/7): ... 40%`, or '' when nothing runs.
---@return string
function M.status()
  for _, bar in pairs(M.active) do
    local pct = bar.percentage and (' ' .. bar.percentage .. '%') or ''
    return 'swe-lsp: ' .. util.title(bar.message or bar.title or '', 40) .. pct
  end
  return ''
end

function M.setup()
  local group = vim.api.nvim_create_augroup('swe_lsp_progress', { clear = true })
  vim.api.nvim_create_autocmd('LspProgress', {
    group = group,
    callback = function(ev)
      M.on_progress(ev.data)
    end,
  })
end

return M
