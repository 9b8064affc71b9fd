import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { formatUsage, wantsHelp } from '../lib/cli';

/** The console's sources. */
export const CONSOLE_SOURCE_DIR = join(__dirname, '..', 'console');

/**
 * Builds the operations console (Preact + graphql-ws, bundled by esbuild) into `outDir`: content-hashed
 * `assets/main-<hash>.js` and `.css`, and an `index.html` naming them. Replaces what was there. No CDN: every byte the
 * page loads is in `outDir`.
 * @default outDir console/dist (what the gateway serves)
 */
export async function buildConsole(outDir = join(CONSOLE_SOURCE_DIR, 'dist')): Promise<{ files: string[] }> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: [join(CONSOLE_SOURCE_DIR, 'src', 'main.tsx')],
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'esm',
    target: ['es2022', 'chrome120', 'firefox120', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(CONSOLE_SOURCE_DIR, 'tsconfig.json'),
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (!script || !style) throw new Error(`the console build made no script or stylesheet: ${outputs.join(', ')}`);
  writeFileSync(
    join(outDir, 'index.html'),
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Meridian operations console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/${style}">
<script type="module" src="/console/assets/${script}"></script>
</head>
<body><div id="app"></div></body>
</html>
`,
  );
  return { files: ['index.html', ...outputs.map((f) => `assets/${f}`)] };
}

if (require.main === module && wantsHelp()) {
  console.log(
    formatUsage({
      command: 'npm run build:console',
      summary:
        'Builds the operations console (console/src) into console/dist, which the gateway serves at /console. ' +
        'npm ci (prepare) and npm test run it.',
    }),
  );
} else if (require.main === module) {
  const started = Date.now();
  buildConsole().then(
    ({ files }) => console.log(`console built in ${Date.now() - started} ms: ${files.join(', ')}`),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
