// npm pack of client/ makes a package that installs with its module and
// its command, and nothing else (no tests, no demos, no dependencies).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const npm = spawnSync('npm', ['--version']).status === 0;

test('npm pack gives an installable package: module, dialog and command',
  { skip: npm ? false : 'needs npm' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'verstore-pack-'));
    try {
      const [packed] = JSON.parse(execFileSync('npm',
        ['pack', '--json', '--pack-destination', dir], { cwd: HERE }));
      assert.deepEqual(packed.files.map((f) => f.path).sort(),
        ['README.md', 'bin/verstore', 'conflict.js', 'offline.js',
          'package.json', 'types/conflict.d.ts', 'types/offline.d.ts',
          'types/verstore.d.ts', 'verstore.js']);
      // the version is the server's (Makefile VERSION)
      const make = readFileSync(join(HERE, '..', 'Makefile'), 'utf8');
      assert.equal(packed.version, /^VERSION\s*=\s*(\S+)/m.exec(make)[1]);
      const app = join(dir, 'app');
      execFileSync('mkdir', [app]);
      writeFileSync(join(app, 'package.json'), '{"type": "module"}');
      execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund',
        join(dir, packed.filename)], { cwd: app, stdio: 'pipe' });
      writeFileSync(join(app, 'use.js'), `
        import { Verstore, VerstoreError } from 'verstore';
        import { merge3 } from 'verstore/conflict.js';
        const s = new Verstore('http://127.0.0.1:1');
        console.log(typeof s.update, typeof VerstoreError,
          JSON.stringify(merge3({ a: 1, b: 1 }, { a: 2, b: 1 },
            { a: 1, b: 2 }).value));`);
      assert.equal(execFileSync(process.execPath, ['use.js'],
        { cwd: app, encoding: 'utf8' }).trim(),
      'function function {"a":2,"b":2}');
      const cli = spawnSync(join(app, 'node_modules', '.bin', 'verstore'),
        ['frob'], { encoding: 'utf8' });
      assert.equal(cli.status, 64);
      assert.match(cli.stderr, /^verstore: unknown command 'frob'\nusage:/);
      const help = spawnSync(join(app, 'node_modules', '.bin', 'verstore'),
        ['help', 'put'], { encoding: 'utf8' });
      assert.equal(help.status, 0);
      assert.match(help.stdout, /^usage: verstore put KEY/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
