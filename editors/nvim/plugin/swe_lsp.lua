-- User commands of swe-lsp (the server starts once `require('swe_lsp').setup()` is called).
if vim.g.loaded_swe_lsp then
  return
end
vim.g.loaded_swe_lsp = true

local function cmd(name, fn, opts)
  vim.api.nvim_create_user_command(name, fn, opts)
end

cmd('SweResolve', function(opts)
  require('swe_lsp.commands').resolve_command(opts)
end, { nargs = '*', range = true, desc = 'swe-lsp: resolve an issue (text, selection, or TODO under the cursor)' })

cmd('SweCandidates', function(opts)
  require('swe_lsp.candidates').pick(opts.fargs[1])
end, { nargs = '?', desc = 'swe-lsp: review the ranked candidates of a job' })

cmd('SweApply', function(opts)
  require('swe_lsp.candidates').apply_command(opts.fargs)
end, { nargs = '*', desc = 'swe-lsp: apply a candidate ([rank] [jobId]) to the buffers' })

cmd('SweCancel', function(opts)
  require('swe_lsp.commands').cancel(opts.fargs[1])
end, { nargs = '?', desc = 'swe-lsp: cancel a running job' })

cmd('SweJobs', function()
  require('swe_lsp.commands').jobs()
end, { nargs = 0, desc = 'swe-lsp: list the jobs of this workspace' })

cmd('SweCheckEnvironment', function(opts)
  require('swe_lsp.environment').command(opts)
end, {
  nargs = '*',
  bang = true,
  desc = 'swe-lsp: build the sandbox environment and run the tests there ([TEST ...]; ! cancels)',
})
