--- Workspace trust with the real server: the workspace's swe-lsp.toml sets a key only a trusted
--- folder may set. `SWE_NVIM_TRUST` is what Neovim's trust database says of that file before the
--- client starts ('allow' or 'deny', written with `vim.secure.trust` as the user's answer would be):
--- allowed, the server takes the key; denied, it leaves it out and says so (vim.notify). Also:
--- the client declares that it asks for an issue's text, so the server offers "Resolve issue...";
--- the TODO under the cursor is found by the server, not by a pattern of the plugin's own.
local E = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/common.lua')
local t = E.t

local verdict = assert(os.getenv('SWE_NVIM_TRUST'), 'SWE_NVIM_TRUST is not set')
local file = E.ws .. '/swe-lsp.toml'
local f = assert(io.open(file, 'w'))
f:write('[model]\napi_key_env = "SWE_LSP_NVIM_API_KEY"\n')
f:close()
-- 'allow' records the hash of the file's text as a buffer holds it (as when the user allows it).
vim.cmd.edit(vim.fn.fnameescape(file))
local toml = vim.api.nvim_get_current_buf()
local ok, err = vim.secure.trust(verdict == 'allow' and { action = 'allow', bufnr = toml } or { action = 'deny', path = file })
assert(ok, err)
vim.cmd.bwipeout(toml)

local buf, client = E.open('calc.py')

t.test('the server is told what the trust database says of swe-lsp.toml', function()
  local result = t.wait(30000, function()
    local answer = client.request_sync('workspace/executeCommand', { command = 'swe-lsp.debugInfo', arguments = {} }, 20000)
    return answer and answer.result
  end, 'swe-lsp.debugInfo')
  local server = result.server
  if verdict == 'allow' then
    t.eq(true, server.workspaceTrusted, 'workspaceTrusted')
    t.eq('SWE_LSP_NVIM_API_KEY', server.settings.model.api_key_env, 'model.api_key_env from the trusted file')
  else
    t.eq(false, server.workspaceTrusted, 'workspaceTrusted')
    t.eq('OPENAI_API_KEY', server.settings.model.api_key_env, 'model.api_key_env stays the default')
    t.wait(30000, function()
      for _, note in ipairs(E.notes) do
        if note:find('`model.api_key_env`', 1, true) and note:find('not trusted', 1, true) then
          return true
        end
      end
    end, 'a message naming the left-out key')
  end
end)

t.test('the plugin says it asks for an issue, so a plain line offers "Resolve issue..."', function()
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 0 } },
    context = { diagnostics = {} },
  }
  local answer = client.request_sync('textDocument/codeAction', params, 20000, buf)
  local titles = vim.tbl_map(function(a)
    return a.title
  end, answer and answer.result or {})
  t.eq({ 'Resolve issue...' }, titles, 'code actions on a plain line')
end)

t.test('the TODO under the cursor is the one the server reads (:SweResolve without text)', function()
  vim.api.nvim_win_set_cursor(0, { 7, 0 })
  local issue, range
  require('swe_lsp.commands').todo_at_cursor(buf, function(i, r)
    issue, range = i or false, r
  end)
  t.wait(20000, function()
    return issue ~= nil
  end, 'the server\'s code action')
  t.eq('TODO: handle None arguments', issue, 'the TODO')
  t.eq(6, range.start.line, 'its line')
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  issue = nil
  require('swe_lsp.commands').todo_at_cursor(buf, function(i)
    issue = i or false
  end)
  t.wait(20000, function()
    return issue ~= nil
  end, 'the server\'s code action')
  t.eq(false, issue, 'no TODO on a plain line')
end)

E.finish()
