// The command-line client against a real nginx + verstored (VERSTORE_URL).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/verstore', import.meta.url));
const run = `c${Date.now().toString(36)}`;
const k = (name) => `cli/${run}/${name}`;

function vs(args, input, env = {}) {
  const p = spawnSync(process.execPath, [BIN, ...args], {
    input, encoding: 'utf8', env: { ...process.env, ...env } });
  let json = null;
  try { json = JSON.parse(p.stdout.trim().split('\n')[0]); } catch { /* text */ }
  return { code: p.status, out: p.stdout, err: p.stderr, json };
}

test('put, get, patch, append, ls, history, rm, txn', () => {
  assert.equal(vs(['put', k('a'), '{"n":1}']).code, 0);
  assert.equal(vs(['get', k('a')]).json.value.n, 1);
  assert.equal(vs(['put', k('a')], '{"n":2}').json.version, 2);  // stdin
  assert.equal(vs(['patch', k('a'), '{"m":1}']).code, 0);
  assert.equal(vs(['append', k('a'), '/l', '"x"']).code, 0);
  assert.deepEqual(vs(['get', k('a')]).json.value, { n: 2, m: 1, l: ['x'] });
  vs(['put', k('b'), '1']);
  assert.deepEqual(vs(['ls', `cli/${run}`]).out.trim().split('\n'),
    [k('a'), k('b')]);
  assert.equal(vs(['history', k('a')]).json[0].version, 4);
  const t = vs(['txn', JSON.stringify([{ op: 'get', key: k('b') }])]);
  assert.equal(t.json[0].value, 1);
  assert.equal(vs(['rm', k('b')]).code, 0);
});

test('exit codes a script can branch on', () => {
  vs(['put', k('c'), '1']);
  assert.equal(vs(['put', k('c'), '2', '--if-version', '7']).code, 2);
  assert.equal(vs(['get', k('missing')]).code, 3);
  assert.equal(vs(['get', '../x']).code, 1);
  assert.equal(vs(['frob']).code, 1);
  assert.equal(vs(['get', k('c')], undefined,
    { VERSTORE_URL: 'http://127.0.0.1:1' }).code, 1);
});
