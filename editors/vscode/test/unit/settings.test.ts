import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needsRestart, readSettings, serverCommand, toServerSettings } from '../../src/settings';

const getter = (values: Record<string, unknown>) => (key: string) => values[key];

test('unset settings map to nothing: the server decides', () => {
  const s = readSettings(getter({ serverCommand: [], pythonInterpreter: '', 'model.backend': '', 'search.budget': null }));
  assert.deepEqual(toServerSettings(s, true), { workspace_trusted: true });
});

test("VS Code's verdict on the folder is sent beside the settings", () => {
  const s = readSettings(getter({ 'model.name': 'qwen-32b' }));
  assert.deepEqual(toServerSettings(s, false), { model: { name: 'qwen-32b' }, workspace_trusted: false });
});

test('set settings map onto the swe-lsp.toml shape, snake_case keys', () => {
  const s = readSettings(
    getter({
      'model.name': 'qwen-32b',
      'model.backend': 'openai',
      'model.baseUrl': ' http://gpu:8000/v1 ',
      'search.budget': 2,
      'sandbox.kind': 'docker',
    }),
  );
  assert.deepEqual(toServerSettings(s, true), {
    model: { name: 'qwen-32b', backend: 'openai', base_url: 'http://gpu:8000/v1' },
    search: { budget: 2 },
    sandbox: { kind: 'docker' },
    workspace_trusted: true,
  });
});

test('values of the wrong type are treated as unset, not sent', () => {
  const s = readSettings(getter({ 'search.budget': 2.5, 'model.backend': 3, serverCommand: 'swe-lsp serve' }));
  assert.deepEqual(toServerSettings(s, true), { workspace_trusted: true });
  assert.deepEqual(s.serverCommand, []);
});

test('server command: explicit command, else the interpreter, else swe-lsp on PATH', () => {
  assert.deepEqual(serverCommand(readSettings(getter({ serverCommand: ['/v/bin/swe-lsp', 'serve', ''] }))), {
    command: '/v/bin/swe-lsp',
    args: ['serve'],
  });
  assert.deepEqual(serverCommand(readSettings(getter({ pythonInterpreter: '/usr/bin/python3' }))), {
    command: '/usr/bin/python3',
    args: ['-m', 'swe_lsp', 'serve'],
  });
  assert.deepEqual(serverCommand(readSettings(getter({}))), { command: 'swe-lsp', args: ['serve'] });
});

test('only a change of the command line needs a restart', () => {
  const a = readSettings(getter({ 'search.budget': 2 }));
  assert.equal(needsRestart(a, readSettings(getter({ 'search.budget': 8 }))), false);
  assert.equal(needsRestart(a, readSettings(getter({ pythonInterpreter: '/usr/bin/python3' }))), true);
  assert.equal(needsRestart(a, readSettings(getter({ serverCommand: ['swe-lsp', 'serve'] }))), false);
});
