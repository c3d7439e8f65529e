--- `:checkhealth swe_lsp`: the server found, its Python, the model prepared, Docker reachable. The
--- facts come from `swe-lsp doctor --json` (the same report `swe-lsp.debugInfo` gives).
local M = {}

local health = vim.health
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local error_ = health.error or health.report_error
local info = health.info or health.report_info

--- The doctor's JSON report of the server command, or nil and why not.
---@param cmd string[]
---@return table|nil, string|nil
function M.doctor(cmd)
  local argv = { cmd[1], 'doctor', '--json' }
  local root = vim.fs.root(0, require('swe_lsp.config').options.root_markers)
  if root then
    vim.list_extend(argv, { '--workspace', root })
  end
  local okrun, res = pcall(function()
    return vim.system(argv, { text = true, env = require('swe_lsp.config').options.cmd_env }):wait(60000)
  end)
  if not okrun then
    return nil, tostring(res)
  end
  if res.code ~= 0 then
    return nil, string.format('`%s` exited %d: %s', table.concat(argv, ' '), res.code, vim.trim(res.stderr or ''))
  end
  local okjson, report = pcall(vim.json.decode, res.stdout)
  if not okjson then
    return nil, 'the doctor printed no JSON: ' .. tostring(report)
  end
  return report, nil
end

function M.check()
  local config = require('swe_lsp.config').options
  start('swe-lsp: setup')
  if not require('swe_lsp')._configured then
    warn("setup() was not called: require('swe_lsp').setup({}) (lazy.nvim: `opts = {}`)")
  end
  if vim.fn.has('nvim-0.10') == 0 then
    error_('Neovim 0.10 or newer is needed')
  else
    ok(string.format('Neovim %s', tostring(vim.version())))
  end
  local exe = config.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    error_(string.format('server `%s` not found', exe), {
      'pip install swe-lsp into a virtualenv and put its bin/ on PATH',
      "or set cmd = { '/path/to/.venv/bin/swe-lsp', 'serve' } in setup()",
    })
    return
  end
  ok(string.format('server: %s', vim.fn.exepath(exe)))
  local client = require('swe_lsp').client()
  if client then
    ok(string.format('running (client id %d, root %s)', client.id, tostring(client.root_dir)))
  else
    info('not running for this buffer (it starts on the first file buffer in a workspace)')
  end

  start('swe-lsp: server environment')
  local report, why = M.doctor(config.cmd)
  if not report then
    error_('`swe-lsp doctor` failed: ' .. tostring(why))
    return
  end
  ok(string.format('swe-lsp %s on Python %s', tostring(report.swe_lsp), tostring(report.python)))
  local model = report.model
  local state = report.models and report.models[model]
  if state == nil then
    warn(string.format('model %s: unknown (swe-lsp models list)', tostring(model)))
  elseif tostring(state):find('not prepared') then
    warn(string.format('model %s: %s', model, state), { 'swe-lsp models prepare ' .. model })
  else
    ok(string.format('model %s: %s (backend %s)', model, tostring(state), tostring(report.backend)))
  end
  local docker = tostring(report.docker or 'unknown')
  if docker:find('^reachable') then
    ok('Docker: ' .. docker)
  else
    warn('Docker: ' .. docker, { 'the sandbox needs Docker, or set sandbox.kind = "bwrap" or "local"' })
  end
  info('GPU: ' .. tostring(report.gpu))
end

return M
