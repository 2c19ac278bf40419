// The types editors complete from: the JSDoc of the module and the dialog
// passes TypeScript's check, the declarations shipped in types/ are the
// ones that JSDoc gives (npm run types), and a TypeScript program using
// the package gets real types from them: right calls pass, wrong ones are
// reported.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync,
  symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(HERE, 'node_modules', 'typescript', 'bin', 'tsc');
const skip = existsSync(TSC) ? false :
  'needs typescript (npm ci in client/)';

function tsc(...args) {
  const p = spawnSync(process.execPath, [TSC, ...args],
    { cwd: HERE, encoding: 'utf8' });
  return { code: p.status, out: p.stdout + p.stderr };
}

test('the JSDoc passes TypeScript\'s check', { skip }, () => {
  const r = tsc('-p', '.');
  assert.equal(r.code, 0, r.out);
});

test('types/ holds the declarations the JSDoc gives', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'verstore-dts-'));
  try {
    const r = tsc('-p', '.', '--noEmit', 'false', '--declaration',
      '--emitDeclarationOnly', '--outDir', dir);
    assert.equal(r.code, 0, r.out);
    for (const f of ['verstore.d.ts', 'offline.d.ts', 'conflict.d.ts'])
      assert.equal(readFileSync(join(HERE, 'types', f), 'utf8'),
        readFileSync(join(dir, f), 'utf8'),
        `types/${f} is stale: npm run types`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const GOOD = `
import { Verstore, VerstoreError, type Envelope, type Written,
  type Change } from 'verstore';
import { merge3, openConflict } from 'verstore/conflict.js';

const s = new Verstore('http://127.0.0.1:1', { token: 't', retries: 2 });
const e: Envelope = await s.get('a');
const w: Written = await s.put('a', { ...e.value, n: 1 }, { merge: true });
const v: number = w.version;
const u: Written = await s.update<{ n: number }>('c',
  (x) => ({ n: (x?.n ?? 0) + 1 }), { retries: 3 });
const i: number = (await s.append('a', '/l', 1, { stamp: true })).index;
const watch = s.watch('a/', (c: Change) => { const k: string = c.key; });
const from: number = await watch.ready;
watch.close();
for await (const it of s.list('a/', { limit: 10 })) {
  const k: string = it.key;
}
try {
  await s.put('a', 1);
} catch (err) {
  if (err instanceof VerstoreError && err.isConflict) {
    const now: number | undefined = err.current?.version;
    const code: string = err.code;
  }
}
const ptrs: string[] = merge3({}, {}, {}).conflicts.map((c) => c.pointer);
const choice: 'merged' | 'mine' | 'theirs' | 'picked' | 'reload' |
  'overwrite' | 'cancel' = (await openConflict({ base: 1, yours: 2,
    theirs: 3 })).choice;
export { v, u, i, from, ptrs, choice };
`;

// Each line a mistake that declarations of "any" would let through.
const BAD = [
  'await s.get(42);',
  's.nosuch();',
  'const n: string = (await s.put(\'a\', 1)).version;',
  'await s.put(\'a\', 1, { iffy: true });',
  's.watch(\'a/\', (c) => c.nosuch);',
  'const e: Error = new VerstoreError(\'409\', {});',
];

test('a TypeScript program gets real types from the package', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'verstore-ts-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(HERE, join(dir, 'node_modules', 'verstore'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}');
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'es2022',
        module: 'nodenext', moduleResolution: 'nodenext',
        lib: ['es2022', 'dom'], types: [], noUnusedLocals: false },
      include: ['*.ts'] }));
    writeFileSync(join(dir, 'good.ts'), GOOD);
    let r = tsc('-p', dir);
    assert.equal(r.code, 0, r.out);
    writeFileSync(join(dir, 'bad.ts'), [
      'import { Verstore, VerstoreError } from \'verstore\';',
      'const s = new Verstore(\'x\');', ...BAD, 'export {};'].join('\n'));
    r = tsc('-p', dir);
    const lines = new Set([...r.out.matchAll(/bad\.ts\((\d+),\d+\): error/g)]
      .map((m) => Number(m[1])));
    BAD.forEach((line, i) =>
      assert.ok(lines.has(i + 3), `not reported: ${line}\n${r.out}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
