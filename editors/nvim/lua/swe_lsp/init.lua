--- swe-lsp for Neovim 0.10+: starts the server (`vim.lsp.config`/`vim.lsp.enable` on 0.11+,
--- `vim.lsp.start` on a FileType autocmd before), and the commands to resolve an issue, follow the
--- job, review the ranked candidates and apply one.
---
---   require('swe_lsp').setup({ init_options = { search = { budget = 2 } } })
local config = require('swe_lsp.config')
local progress = require('swe_lsp.progress')

local M = {}

M.name = 'swe_lsp'
local NEW_API = vim.fn.has('nvim-0.11') == 1

--- The workspace of a buffer: the nearest folder with a root marker above its file. Buffers
--- without a file, or outside any workspace, get none (the server is not started for them).
---@param bufnr integer
---@return string|nil
function M.root_of(bufnr)
  if vim.bo[bufnr].buftype ~= '' or vim.api.nvim_buf_get_name(bufnr) == '' then
    return nil
  end
  return vim.fs.root(bufnr, config.options.root_markers)
end

--- Whether the user trusts the workspace `root`'s own `swe-lsp.toml`, by Neovim's trust database
--- (`vim.secure`, as for 'exrc'): the first time, and whenever the file changes, Neovim asks
--- (allow, deny, view); the answer is remembered. Only a trusted file may set the keys that send
--- the code elsewhere or run it outside the sandbox; the server names any it leaves out. Without
--- the file there is nothing to trust.
---@param root string|nil
---@return boolean
function M.trusted(root)
  if not root then
    return false
  end
  local file = vim.fs.joinpath(root, 'swe-lsp.toml')
  if vim.fn.filereadable(file) == 0 then
    return false
  end
  local ok, content = pcall(vim.secure.read, file)
  return ok and content ~= nil
end

--- The LSP client config handed to `vim.lsp.config` / `vim.lsp.start`.
---@return table
function M.client_config()
  local o = config.options
  return {
    name = M.name,
    cmd = o.cmd,
    cmd_env = o.cmd_env,
    filetypes = o.filetypes,
    root_dir = function(bufnr, on_dir)
      local root = M.root_of(bufnr)
      if root then
        on_dir(root)
      end
    end,
    init_options = o.init_options,
    settings = o.settings and { ['swe-lsp'] = o.settings } or nil,
    -- The plugin asks for an issue's text (`:SweResolve`, the "Resolve issue..." action), so the
    -- server may offer the action without one.
    capabilities = vim.tbl_deep_extend('force', vim.lsp.protocol.make_client_capabilities(), {
      experimental = { ['swe-lsp'] = { issuePrompt = true } },
    }),
    handlers = {
      ['swe-lsp/jobUpdated'] = function(_, job, ctx)
        progress.job_updated(job, ctx.client_id)
      end,
      -- Through vim.notify at the message's level (Neovim's own handler echoes it), so that a
      -- notification plugin shows the server's warnings, e.g. the settings an untrusted folder
      -- may not set.
      ['window/showMessage'] = function(_, params)
        local levels = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }
        vim.notify(params.message, levels[params.type] or vim.log.levels.INFO, { title = 'swe-lsp' })
      end,
    },
    before_init = function(params, cfg)
      M._starting = true
      -- The editor's verdict on the folder travels beside the settings (the server's TRUST_KEY).
      local options = vim.deepcopy(params.initializationOptions or vim.empty_dict())
      options.workspace_trusted = M.trusted(cfg.root_dir)
      params.initializationOptions = options
    end,
    on_init = function()
      M._starting = false
      vim.schedule(M._flush)
    end,
    on_exit = function()
      M._starting = false
      vim.schedule(M._flush)
    end,
  }
end

-- Requests made while the server starts wait for its `initialize` answer (a command run right
-- after opening a file should not fail because Python is still importing).
M._pending = {}

function M._flush()
  local pending = M._pending
  M._pending = {}
  for _, call in ipairs(pending) do
    M.request(unpack(call, 1, 4))
  end
end

local function start_legacy(bufnr)
  local o = config.options
  if o.filetypes and not vim.tbl_contains(o.filetypes, vim.bo[bufnr].filetype) then
    return
  end
  local root = M.root_of(bufnr)
  if not root then
    return
  end
  local cfg = M.client_config()
  cfg.root_dir = root
  cfg.workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fs.basename(root) } }
  vim.lsp.start(cfg, { bufnr = bufnr })
end

--- Configure and enable the server. Safe to call again (the options are replaced).
---@param opts table|nil see `swe_lsp.config`
function M.setup(opts)
  config.set(opts)
  progress.setup()
  require('swe_lsp.commands').register_client_commands()
  if NEW_API and vim.lsp.config and vim.lsp.enable then
    vim.lsp.config(M.name, M.client_config())
    vim.lsp.enable(M.name)
  else
    local group = vim.api.nvim_create_augroup('swe_lsp_start', { clear = true })
    vim.api.nvim_create_autocmd('FileType', {
      group = group,
      callback = function(ev)
        start_legacy(ev.buf)
      end,
    })
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].filetype ~= '' then
        start_legacy(buf)
      end
    end
  end
  M._configured = true
end

--- The swe-lsp client of a buffer (else any running swe-lsp client), or nil.
---@param bufnr integer|nil
---@return table|nil
function M.client(bufnr)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  local clients = get({ name = M.name, bufnr = bufnr or vim.api.nvim_get_current_buf() })
  if #clients == 0 then
    clients = get({ name = M.name })
  end
  return clients[1]
end

--- Send a request to the server: `cb(err, result)`. Without a client, `cb` gets an error.
---@param method string
---@param params table|nil
---@param cb fun(err: table|nil, result: any)
---@param bufnr integer|nil
function M.request(method, params, cb, bufnr)
  local client = M.client(bufnr)
  if not client and M._starting then
    table.insert(M._pending, { method, params, cb, bufnr })
    return
  end
  if not client then
    cb({ message = 'swe-lsp is not running for this buffer (see :checkhealth swe_lsp)' }, nil)
    return
  end
  local handler = function(err, result)
    cb(err, result)
  end
  if NEW_API then
    client:request(method, params, handler, bufnr)
  else
    client.request(method, params, handler, bufnr)
  end
end

--- Run a `workspace/executeCommand` on the server: `cb(err, result)`.
---@param command string
---@param args table
---@param cb fun(err: table|nil, result: any)
function M.exec(command, args, cb)
  M.request('workspace/executeCommand', { command = command, arguments = { args } }, cb)
end

--- The statusline component: the running jobs' progress, or ''.
---@return string
function M.status()
  return progress.status()
end

return M
