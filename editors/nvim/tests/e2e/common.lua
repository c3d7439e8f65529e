--- Shared setup of the end-to-end scripts: the harness, the plugin configured against the real
--- server (`SWE_NVIM_SERVER`: the `swe-lsp` executable), a file of the workspace (`SWE_NVIM_WS`)
--- opened, and the client initialized. `vim.ui.select` is replaced by a recorder that picks an
--- item (`E.pick`, 1 by default): the plugin's code calls it as it would call a UI.
---
--- `SWE_NVIM_HIDE_NEW_API=1` runs the script as on Neovim 0.10, which has neither `vim.lsp.config`
--- nor `vim.lsp.enable`: they are removed before the plugin loads, so it must start its client with
--- `vim.lsp.start` (no 0.10 binary can be had here; this is how that path is exercised).
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local t = dofile(here .. '/../harness.lua')

local E = { t = t, selects = {}, pick = 1, notes = {} }

E.ws = assert(os.getenv('SWE_NVIM_WS'), 'SWE_NVIM_WS is not set')
E.server = assert(os.getenv('SWE_NVIM_SERVER'), 'SWE_NVIM_SERVER is not set')
E.legacy = os.getenv('SWE_NVIM_HIDE_NEW_API') == '1'
if E.legacy then
  vim.lsp.config = nil
  vim.lsp.enable = nil
end
t.log(string.format('Neovim %s, %s', tostring(vim.version()), E.legacy and 'vim.lsp.start (0.10 path)' or 'the API it has'))

vim.ui.select = function(items, opts, on_choice)
  local shown = {}
  for i, item in ipairs(items) do
    shown[i] = (opts.format_item or tostring)(item)
  end
  E.selects[#E.selects + 1] = { prompt = opts.prompt, items = items, shown = shown }
  vim.schedule(function()
    on_choice(items[E.pick], E.pick)
  end)
end

local notify = vim.notify
vim.notify = function(msg, level, opts)
  E.notes[#E.notes + 1] = msg
  t.log('notify: ' .. tostring(msg))
  return notify(msg, level, opts)
end

--- Set up the plugin and open `rel` in the workspace; returns the buffer and the client.
---@param rel string
---@param opts table|nil extra setup options
function E.open(rel, opts)
  vim.cmd('filetype on')
  vim.cmd.runtime('plugin/swe_lsp.lua')
  require('swe_lsp').setup(vim.tbl_extend('force', { cmd = { E.server, 'serve' } }, opts or {}))
  vim.cmd.cd(vim.fn.fnameescape(E.ws))
  vim.cmd.edit(vim.fn.fnameescape(E.ws .. '/' .. rel))
  local buf = vim.api.nvim_get_current_buf()
  local client = t.wait(60000, function()
    local c = require('swe_lsp').client(buf)
    return c and c.initialized and c
  end, 'the swe-lsp client to start and initialize for ' .. rel)
  t.eq(vim.fs.normalize(E.ws), vim.fs.normalize(client.root_dir), 'client root')
  t.ok(vim.lsp.buf_is_attached(buf, client.id), 'the client is attached to ' .. rel)
  if E.legacy then
    t.eq(nil, vim.lsp.config, 'vim.lsp.config stays hidden')
    t.eq(1, #vim.api.nvim_get_autocmds({ group = 'swe_lsp_start', event = 'FileType' }), 'the FileType autocmd that starts the client')
  elseif vim.fn.has('nvim-0.11') == 1 then
    t.ok(not pcall(vim.api.nvim_get_autocmds, { group = 'swe_lsp_start' }), 'on 0.11+ vim.lsp.enable starts the client, not the 0.10 autocmd')
  end
  return buf, client
end

--- Stop the clients and exit with the harness's verdict.
function E.finish()
  local ok, err = pcall(t.run)
  if not ok then
    error(err)
  end
end

--- A file's text on disk.
function E.read(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('*a')
  f:close()
  return s
end

--- A buffer's text as it would be written (with the final newline).
function E.buf_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'
end

return E
