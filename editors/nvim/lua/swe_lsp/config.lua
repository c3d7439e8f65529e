--- Options of `require('swe_lsp').setup(opts)`, merged over the defaults once.
local M = {}

M.defaults = {
  --- The server command; `swe-lsp` must be on PATH (or give the full path of the venv's script).
  cmd = { 'swe-lsp', 'serve' },
  --- Extra environment for the server process (e.g. `{ SWE_LSP_MODEL__BACKEND = 'transformers' }`).
  cmd_env = nil,
  --- Filetypes to attach to; nil attaches to every file buffer.
  filetypes = nil,
  --- What marks a workspace root.
  root_markers = { 'swe-lsp.toml', '.git' },
  --- `initializationOptions`, shaped like `swe-lsp.toml`:
  --- `{ model = { backend = 'transformers' }, search = { budget = 2, beam = 1 } }`.
  init_options = vim.empty_dict(),
  --- `workspace/configuration` answer for the `swe-lsp` section (same shape), or nil.
  settings = nil,
  --- How `:SweCandidates` previews a candidate: 'float' (the unified diff) or 'split' (a tab per
  --- file: the file and the candidate's version side by side under `:diffthis`).
  preview = 'float',
  --- Floating preview size, as fractions of the editor.
  float = { width = 0.8, height = 0.8, border = 'rounded' },
  --- Tell the user (vim.notify) when a job starts and ends.
  notify = true,
}

M.options = vim.deepcopy(M.defaults)

--- Merge user options over the defaults (unknown keys are an error the user sees).
---@param opts table|nil
---@return table
function M.set(opts)
  opts = opts or {}
  for key in pairs(opts) do
    if M.defaults[key] == nil and key ~= 'cmd_env' and key ~= 'filetypes' and key ~= 'settings' then
      error(string.format('swe_lsp.setup: unknown option %q', key), 2)
    end
  end
  if opts.preview ~= nil and opts.preview ~= 'float' and opts.preview ~= 'split' then
    error("swe_lsp.setup: preview must be 'float' or 'split'", 2)
  end
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  if type(opts.cmd) == 'table' then -- lists replace, they do not merge by index
    M.options.cmd = opts.cmd
  end
  if type(opts.root_markers) == 'table' then
    M.options.root_markers = opts.root_markers
  end
  return M.options
end

return M
