// Bundle the extension (and the end-to-end suite that runs inside VS Code) with esbuild.
// `vscode` is provided by the editor; everything else (vscode-languageclient) is bundled.
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};
await esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' });
if (!production) {
  await esbuild.build({ ...common, entryPoints: ['test/e2e/suite/index.ts'], outfile: 'dist/test/e2e-suite.js' });
}
