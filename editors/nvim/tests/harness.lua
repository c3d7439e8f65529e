--- A small test harness for `nvim --headless --clean -l <file>` (plenary and mini.test cannot be
--- fetched here). A test file does `local t = dofile(<this file>)`, adds tests with `t.test`, and
--- ends with `t.run()`, which prints one line per test and exits 1 if any failed.
local H = { tests = {} }

--- The plugin's folder (editors/nvim), put on 'runtimepath' and package.path.
H.root = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h')
vim.opt.runtimepath:prepend(H.root)
package.path = H.root .. '/lua/?.lua;' .. H.root .. '/lua/?/init.lua;' .. package.path

---@param name string
---@param fn function
function H.test(name, fn)
  H.tests[#H.tests + 1] = { name = name, fn = fn }
end

function H.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(string.format('%sexpected %s, got %s', what and (what .. ': ') or '', vim.inspect(expected),
      vim.inspect(actual)), 2)
  end
end

function H.ok(cond, what)
  if not cond then
    error('not true: ' .. tostring(what), 2)
  end
  return cond
end

function H.contains(haystack, needle, what)
  if type(haystack) == 'table' then
    haystack = table.concat(haystack, '\n')
  end
  if not tostring(haystack):find(needle, 1, true) then
    error(string.format('%s%q not found in:\n%s', what and (what .. ': ') or '', needle, haystack), 2)
  end
end

--- Wait (processing events) until `cond()` is truthy; fail with `what` after `ms` milliseconds.
--- The bound only turns a hang into a failure with a message; nothing asserts on time.
function H.wait(ms, cond, what)
  local value
  local done = vim.wait(ms, function()
    value = cond()
    return value
  end, 50)
  if not done then
    error('timed out waiting for ' .. what, 2)
  end
  return value
end

--- Log a line to stdout (pytest shows it on failure).
function H.log(...)
  io.stdout:write(table.concat(vim.tbl_map(tostring, { ... }), ' ') .. '\n')
end

function H.run()
  local failed = 0
  for _, t in ipairs(H.tests) do
    local ok, err = xpcall(t.fn, debug.traceback)
    if ok then
      H.log('ok   ' .. t.name)
    else
      failed = failed + 1
      H.log('FAIL ' .. t.name .. '\n' .. tostring(err))
    end
  end
  H.log(string.format('%d passed, %d failed', #H.tests - failed, failed))
  io.stdout:flush()
  os.exit(failed > 0 and 1 or 0)
end

return H
