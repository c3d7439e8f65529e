/**
 * The extension's settings (`swe-lsp.*`), what they mean for the server process, and their mapping
 * onto the server's settings, which are shaped like `swe-lsp.toml` ({model: {backend, base_url}}).
 * No `vscode` import: `read` takes a getter, so the unit tests run it on plain objects.
 *
 * An empty value means "the server decides" (its `swe-lsp.toml`, `SWE_LSP_*` variables, defaults)
 * and is left out of the mapping, so the editor only overrides what the user set.
 */

export interface ExtensionSettings {
  serverCommand: string[];
  pythonInterpreter: string;
  model: { name: string; backend: string; baseUrl: string };
  search: { budget: number | null };
  sandbox: { kind: string };
}

/** A getter like `WorkspaceConfiguration.get` for the keys under `swe-lsp.`. */
export type Getter = (key: string) => unknown;

function str(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** Read the settings, treating anything of the wrong type as unset. */
export function readSettings(get: Getter): ExtensionSettings {
  const command = get('serverCommand');
  const budget = get('search.budget');
  return {
    serverCommand: Array.isArray(command) ? command.filter((p): p is string => typeof p === 'string' && p !== '') : [],
    pythonInterpreter: str(get('pythonInterpreter')),
    model: { name: str(get('model.name')), backend: str(get('model.backend')), baseUrl: str(get('model.baseUrl')) },
    search: { budget: typeof budget === 'number' && Number.isInteger(budget) ? budget : null },
    sandbox: { kind: str(get('sandbox.kind')) },
  };
}

/** How to start the server: `serverCommand`, else `<python> -m swe_lsp serve`, else `swe-lsp serve`. */
export function serverCommand(s: ExtensionSettings): { command: string; args: string[] } {
  const [command, ...args] = s.serverCommand;
  if (command !== undefined) {
    return { command, args };
  }
  if (s.pythonInterpreter) {
    return { command: s.pythonInterpreter, args: ['-m', 'swe_lsp', 'serve'] };
  }
  return { command: 'swe-lsp', args: ['serve'] };
}

/** The server's settings (initializationOptions, and the answer to workspace/configuration), with
 * VS Code's verdict on the folder (`workspace_trusted`): only in a trusted folder may the folder's
 * own swe-lsp.toml set the keys that send code elsewhere or run it outside the sandbox. */
export function toServerSettings(s: ExtensionSettings, trusted: boolean): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>> = {};
  const put = (section: string, key: string, value: unknown): void => {
    if (value === '' || value === null || value === undefined) {
      return;
    }
    (out[section] ??= {})[key] = value;
  };
  put('model', 'name', s.model.name);
  put('model', 'backend', s.model.backend);
  put('model', 'base_url', s.model.baseUrl);
  put('search', 'budget', s.search.budget);
  put('sandbox', 'kind', s.sandbox.kind);
  return { ...out, workspace_trusted: trusted };
}

/** Whether going from `a` to `b` needs a new server process (its command line changed). */
export function needsRestart(a: ExtensionSettings, b: ExtensionSettings): boolean {
  const x = serverCommand(a);
  const y = serverCommand(b);
  return x.command !== y.command || JSON.stringify(x.args) !== JSON.stringify(y.args);
}
