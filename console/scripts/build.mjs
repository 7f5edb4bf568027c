#!/usr/bin/env node
// Builds the console into dist/: one hashed JS bundle and one hashed CSS file, and an
// index.html naming them. `--if-stale` (what `npm start` runs first) builds only when the
// sources changed since the last build (a hash of them is kept in dist/.source-hash), so a
// start with a fresh build costs a few milliseconds.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const hashFile = join(dist, '.source-hash');

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

function sourceHash() {
  const hash = createHash('sha256');
  for (const path of [...files(join(root, 'src')), join(root, 'scripts', 'build.mjs'), join(root, 'package.json')].sort()) {
    hash.update(relative(root, path)).update('\0').update(readFileSync(path)).update('\0');
  }
  return hash.digest('hex');
}

const INDEX = (js, css) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>toolbelt console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${css}">
<script type="module" src="/assets/${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The toolbelt console needs JavaScript; the API and the toolbelt command work without it.</noscript>
</body>
</html>
`;

async function build() {
  const { build: esbuild } = await import('esbuild');
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(join(dist, 'assets'), { recursive: true });
  const result = await esbuild({
    entryPoints: [join(root, 'src', 'main.tsx'), join(root, 'src', 'styles.css')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: join(dist, 'assets'),
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => p.split('/').at(-1));
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  writeFileSync(join(dist, 'index.html'), INDEX(js, css));
  return { js, css };
}

const hash = sourceHash();
if (process.argv.includes('--if-stale') && existsSync(hashFile) && readFileSync(hashFile, 'utf8') === hash) process.exit(0);
const started = performance.now();
const { js, css } = await build();
writeFileSync(hashFile, hash);
console.error(`built the console into ${relative(process.cwd(), dist) || '.'} (${js}, ${css}) in ${Math.round(performance.now() - started)} ms`);
