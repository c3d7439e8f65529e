--- Pure helpers (no editor state, no LSP): building the issue from a range, turning candidates
--- and jobs into lines and select items, splitting a unified diff by file; and the one way the
--- plugin's modules notify the user and word an LSP error. Unit-tested under
--- `nvim --headless -l editors/nvim/tests/unit/test_util.lua`.
local M = {}

local FINAL = { done = true, failed = true, cancelled = true, interrupted = true }

--- Whether a job state is final (the job will not change any more).
---@param state string
---@return boolean
function M.is_final(state)
  return FINAL[state] == true
end

--- The text of a selection. `lines` are the buffer lines `srow..erow` (1-based rows, inclusive);
--- `scol`/`ecol` are 1-based byte columns (`ecol` inclusive, as marks give them). `mode` is the
--- visual mode: 'v' cuts at the columns, 'V' (or a plain command range) takes whole lines, and
--- CTRL-V takes the same columns of each line.
---@param lines string[]
---@param scol integer
---@param ecol integer
---@param mode string
---@return string
function M.selection_text(lines, scol, ecol, mode)
  if #lines == 0 then
    return ''
  end
  if mode == 'v' then
    local out = vim.deepcopy(lines)
    if #out == 1 then
      out[1] = out[1]:sub(scol, ecol)
    else
      out[1] = out[1]:sub(scol)
      out[#out] = out[#out]:sub(1, ecol)
    end
    return table.concat(out, '\n')
  elseif mode == '\22' then
    local lo, hi = math.min(scol, ecol), math.max(scol, ecol)
    local out = {}
    for i, line in ipairs(lines) do
      out[i] = line:sub(lo, hi)
    end
    return table.concat(out, '\n')
  end
  return table.concat(lines, '\n')
end

--- Trim a text and collapse the common indentation of its lines (a selection of indented code
--- reads better as an issue without it).
---@param text string
---@return string
function M.dedent(text)
  local lines = vim.split(text, '\n', { plain = true })
  local indent
  for _, line in ipairs(lines) do
    if line:find('%S') then
      local lead = #line:match('^%s*')
      indent = indent and math.min(indent, lead) or lead
    end
  end
  for i, line in ipairs(lines) do
    lines[i] = line:sub((indent or 0) + 1)
  end
  return vim.trim(table.concat(lines, '\n'))
end

--- The first line of a text, shortened to `width` characters.
---@param text string|nil
---@param width integer
---@return string
function M.title(text, width)
  local first = vim.trim(text or ''):match('^[^\n]*') or ''
  local line = vim.trim((first:gsub('%s+', ' ')))
  if vim.fn.strchars(line) > width then
    line = vim.fn.strcharpart(line, 0, width - 1) .. '…'
  end
  return line
end

--- "verified", "reproduced, not verified", "unverified": a candidate's evidence in a word or two.
---@param ev table|nil the candidate's `evidence`
---@return string
function M.verdict(ev)
  ev = ev or {}
  if ev.verified then
    return 'verified'
  elseif ev.reproduced then
    return 'reproduced, not verified'
  end
  return 'unverified'
end

--- One line for a candidate in a select list: `#0  0.90  verified  calc.py  replace a with b`.
---@param cand table a candidate of `swe-lsp/candidates`
---@return string
function M.format_candidate(cand)
  local files = table.concat(cand.files or {}, ', ')
  local score = type(cand.score) == 'number' and string.format('%.2f', cand.score) or '-'
  local parts = { '#' .. tostring(cand.rank), score, M.verdict(cand.evidence), files }
  if cand.summary and cand.summary ~= '' then
    parts[#parts + 1] = M.title(cand.summary, 60)
  end
  return table.concat(parts, '  ')
end

--- The evidence of a candidate as lines: what ran in the sandbox, what passed, the scores.
---@param ev table|nil
---@return string[]
function M.format_evidence(ev)
  ev = ev or {}
  local out = { 'Evidence: ' .. M.verdict(ev) }
  if ev.reproBeforeExit ~= nil or ev.reproAfterExit ~= nil then
    out[#out + 1] = string.format(
      '  reproduction: exit %s before the patch, %s after',
      tostring(ev.reproBeforeExit == nil and '-' or ev.reproBeforeExit),
      tostring(ev.reproAfterExit == nil and '-' or ev.reproAfterExit)
    )
  end
  if ev.testsCommand then
    out[#out + 1] = string.format('  tests: %s (exit %s)', ev.testsCommand, tostring(ev.testsExit))
  end
  local scores = {}
  for stage, score in pairs(ev.prmScores or {}) do
    scores[#scores + 1] = string.format('%s %.2f', stage, score)
  end
  table.sort(scores)
  if #scores > 0 then
    out[#out + 1] = '  PRM: ' .. table.concat(scores, ', ')
  end
  if type(ev.ormScore) == 'number' then
    out[#out + 1] = string.format('  ORM: %.3f', ev.ormScore)
  end
  if ev.votes and ev.votes > 1 then
    out[#out + 1] = string.format('  votes: %d', ev.votes)
  end
  for _, note in ipairs(ev.notes or {}) do
    out[#out + 1] = '  note: ' .. note
  end
  return out
end

--- The lines of a candidate's preview: a header (rank, score, summary, evidence), then the diff.
---@param cand table
---@return string[]
function M.preview_lines(cand)
  local out = { M.format_candidate(cand) }
  if cand.editError and cand.editError ~= vim.NIL then
    out[#out + 1] = 'Cannot apply as things stand: ' .. cand.editError
  end
  vim.list_extend(out, M.format_evidence(cand.evidence))
  out[#out + 1] = ''
  vim.list_extend(out, vim.split((cand.diff or ''):gsub('\n$', ''), '\n', { plain = true }))
  return out
end

--- Split a unified diff into one section per file: `{ {path=..., lines={...}}, ... }`. The path
--- is the new side's (`b/...`), or the old side's for a deletion; lines keep their prefixes.
---@param diff string
---@return {path: string, lines: string[]}[]
function M.split_diff(diff)
  local files, cur = {}, nil
  for _, line in ipairs(vim.split(diff or '', '\n', { plain = true })) do
    local a, b = line:match('^diff %-%-git a/(.-) b/(.*)$')
    if a then
      cur = { path = b, lines = { line } }
      files[#files + 1] = cur
    elseif line:match('^%-%-%- ') and (cur == nil or cur.seen_plus) then
      -- a plain unified diff without `diff --git` headers
      cur = { path = line:match('^%-%-%- a/(.*)$') or line:sub(5), lines = { line } }
      files[#files + 1] = cur
    elseif cur then
      cur.lines[#cur.lines + 1] = line
      local new = line:match('^%+%+%+ b/(.*)$')
      if new then
        cur.path, cur.seen_plus = new, true
      elseif line:match('^%+%+%+ /dev/null') then
        cur.seen_plus = true
      end
    end
  end
  for _, f in ipairs(files) do
    f.seen_plus = nil
    while #f.lines > 0 and f.lines[#f.lines] == '' do
      table.remove(f.lines)
    end
  end
  return files
end

--- One line for a job in `:SweJobs`: `done      2 cand.  fix the parser  (3f2a…)`.
---@param job table a job of `swe-lsp/jobs` or `swe-lsp/jobUpdated`
---@return string
function M.format_job(job)
  local detail
  if job.state == 'running' or job.state == 'queued' then
    detail = job.stage and job.stage ~= vim.NIL and (job.stage .. ' ' .. math.floor((job.fraction or 0) * 100) .. '%')
      or job.state
  elseif job.state == 'failed' then
    detail = 'failed: ' .. M.title(job.error ~= vim.NIL and job.error or job.message, 40)
  elseif job.state == 'done' and (job.candidates or 0) == 0 and type(job.message) == 'string'
      and job.message:match('^no candidate') then
    -- The server says where the candidates were lost: `no candidate: patch: 4 syntax_error, ...`.
    detail = 'done: ' .. M.title(job.message, 40)
  else
    detail = string.format('%s, %d candidate(s)', job.state, job.candidates or 0)
  end
  return string.format('%-28s  %s  [%s]', detail, M.title(job.issue, 50), job.jobId)
end

--- The job a server-created progress token belongs to (`swe-lsp/job/<id>`), or nil.
---@param token string|integer
---@return string|nil
function M.job_of_token(token)
  return type(token) == 'string' and token:match('^swe%-lsp/job/(.+)$') or nil
end

--- Parse `:SweApply [rank] [jobId]` arguments.
---@param fargs string[]
---@return integer|nil rank, string|nil job_id, string|nil error
function M.parse_apply_args(fargs)
  local rank, job
  for _, arg in ipairs(fargs) do
    if arg:match('^%d+$') and rank == nil then
      rank = tonumber(arg)
    elseif job == nil then
      job = arg
    else
      return nil, nil, 'usage: :SweApply [rank] [jobId]'
    end
  end
  return rank, job, nil
end

--- Notify the user, titled as the plugin.
---@param msg string
---@param level integer|nil
function M.notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = 'swe-lsp' })
end

--- An LSP error (a ResponseError table, or anything else) as one line for the user.
---@param err any
---@return string
function M.err_msg(err)
  return type(err) == 'table' and (err.message or vim.inspect(err)) or tostring(err)
end

return M
