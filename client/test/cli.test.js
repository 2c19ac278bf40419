// The command-line client against a real nginx + verstored (VERSTORE_URL).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
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
  assert.equal(vs(['frob']).code, 64);
  assert.equal(vs(['get', k('c')], undefined,
    { VERSTORE_URL: 'http://127.0.0.1:1' }).code, 1);
});

// a key written n times: at version n, its value {n}
function atVersion(key, n) {
  for (let i = 1; i <= n; i++)
    assert.equal(vs(['put', key, JSON.stringify({ n: i })]).code, 0);
  assert.equal(vs(['get', key]).json.version, n);
}

const USAGE = (cmd) =>
  new RegExp(`^verstore ${cmd}: .+\\nusage: verstore ${cmd} `);

test('an option or a value it does not know is exit 64, with the usage on ' +
  'stderr, and writes nothing', () => {
  const key = k('strict');
  atVersion(key, 5);
  for (const bad of [['--if-version', 'abc'], ['--forse'], ['--if-version'],
    ['--if-version', '-1'], ['--if-version', '1.5'], ['--if-version', ''],
    ['--if-version', '0x1'], ['--force=yes'], ['--force', '--merge'],
    ['--force', '--if-version', '5'], ['--if-version', '5', '--if-version',
      '5'], ['--values'], ['extra'], ['--url', 'ftp://x'], ['--token', '']]) {
    const r = vs(['put', key, '{"n":99}', ...bad]);
    assert.equal(r.code, 64, `${bad}: ${r.err}`);
    assert.match(r.err, USAGE('put'), String(bad));
    assert.equal(r.out, '', String(bad));
  }
  assert.equal(vs(['put', key, 'not json']).code, 64);
  assert.equal(vs(['put', key], '').code, 64);		/* stdin, empty */
  for (const [cmd, ...bad] of [['rm', key, '--force'], ['rm', key,
    '--if-version', '0'], ['get', key, '--if-version', '5'], ['ls', 'cli/',
    '--since', '1'], ['watch', 'cli/', '--since', 'x'], ['history', key,
    key], ['txn', '[', '--poll'], ['append', key, '/l', '1', '--stamp=1']]) {
    const r = vs([cmd, ...bad]);
    assert.equal(r.code, 64, `${cmd} ${bad}: ${r.err}`);
    assert.match(r.err, USAGE(cmd), `${cmd} ${bad}`);
  }
  const after = vs(['get', key]).json;
  assert.deepEqual([after.version, after.value], [5, { n: 5 }]);
  for (const args of [['frob'], [], ['--frob'], ['token'], ['token', 'frob'],
    ['help', 'frob']]) {
    const r = vs(args);
    assert.equal(r.code, 64, `${args}: ${r.err}`);
    assert.match(r.err, /^verstore( token)?: .+\nusage:/, String(args));
  }
});

test('a missing argument is exit 64 and names it, not a TypeError', () => {
  for (const [args, missing] of [[['get'], 'KEY'], [['put'], 'KEY'],
    [['append', k('x')], 'POINTER'], [['rm'], 'KEY'], [['history'], 'KEY'],
    [['token', 'add'], 'NAME'], [['get', ''], 'KEY']]) {
    const r = vs(args);
    assert.equal(r.code, 64, `${args}: ${r.err}`);
    assert.match(r.err, new RegExp(`: ${missing} (missing|is empty)\\n`));
    assert.doesNotMatch(r.err, /TypeError|Cannot read/);
  }
});

test('--if-version reaches the request: a stale one is exit 2 and writes ' +
  'nothing; the conflict\'s current version and value on stderr', () => {
  const key = k('stale');
  atVersion(key, 5);
  for (const stale of [['--if-version=1'], ['--if-version', '4'],
    ['--if-version', '0'], ['--if-version', '1', '--merge']]) {
    const r = vs(['put', key, '{"n":99}', ...stale]);
    assert.equal(r.code, 2, `${stale}: ${r.err}`);
    const lines = r.err.trim().split('\n');
    assert.match(lines[0],
      /^verstore: (412 PRECONDITION_FAILED|409 MERGE_CONFLICT): .*at version 5\)$/);
    const body = JSON.parse(lines.at(-1));
    assert.deepEqual([body.version, body.value, body.exists],
      [5, { n: 5 }, true]);
  }
  assert.deepEqual(vs(['get', key]).json.value, { n: 5 });
  assert.equal(vs(['put', key, '{"n":6}', '--if-version', '5']).json.version,
    6);
  // options anywhere, -- before a value that starts with -
  assert.equal(vs(['put', '--if-version', '6', key, '--', '-7']).json.version,
    7);
  assert.equal(vs(['get', key]).json.value, -7);
  assert.equal(vs(['put', key, '8', '--force']).json.version, 8);
  // 0: only a key that does not exist
  const fresh = k('fresh');
  assert.equal(vs(['put', fresh, '1', '--if-version', '0']).json.version, 1);
  assert.equal(vs(['put', fresh, '2', '--if-version', '0']).code, 2);
  assert.equal(vs(['get', fresh]).json.value, 1);
  // rm: a stale version deletes nothing
  const r = vs(['rm', key, '--if-version', '7']);
  assert.equal(r.code, 2, r.err);
  assert.equal(JSON.parse(r.err.trim().split('\n').at(-1)).version, 8);
  assert.equal(vs(['get', key]).json.version, 8);
  assert.equal(vs(['rm', key, '--if-version', '8']).code, 0);
  assert.equal(vs(['get', key]).code, 3);
});

test('--merge, --json-patch, --stamp and --values reach the request', () => {
  const key = k('merge');
  assert.equal(vs(['put', key, '{"a":1,"b":1}']).json.version, 1);
  assert.equal(vs(['put', key, '{"a":2,"b":1}']).json.version, 2);
  // a put on version 1: refused alone, merged with --merge
  assert.equal(vs(['put', key, '{"a":1,"b":2}', '--if-version', '1']).code, 2);
  const m = vs(['put', key, '{"a":1,"b":2}', '--if-version', '1', '--merge']);
  assert.equal(m.code, 0, m.err);
  assert.deepEqual(vs(['get', key]).json.value, { a: 2, b: 2 });
  // a JSON patch whose test fails writes nothing
  const failed = vs(['patch', key, '--json-patch', JSON.stringify([
    { op: 'test', path: '/a', value: 1 },
    { op: 'replace', path: '/b', value: 9 }])]);
  assert.equal(failed.code, 2, failed.err);
  assert.equal(JSON.parse(failed.err.trim().split('\n').at(-1)).code,
    'PATCH_CONFLICT');
  assert.equal(vs(['patch', key, '--json-patch', JSON.stringify([
    { op: 'test', path: '/a', value: 2 },
    { op: 'add', path: '/l', value: [] }])]).code, 0);
  assert.equal(vs(['append', key, '/l', '{"t":"x"}', '--stamp']).code, 0);
  const item = vs(['get', key]).json.value.l[0];
  assert.equal(item.t, 'x');
  assert.match(item.at, /^\d{4}-\d\d-\d\dT/);
  vs(['put', k('v/a'), '{"a":1}']);
  vs(['put', k('v/b'), '2']);
  const lines = vs(['ls', `cli/${run}/v/`, '--values']).out.trim().split('\n');
  assert.deepEqual(lines.map((l) => JSON.parse(l)).map((i) => [i.key, i.value]),
    [[k('v/a'), { a: 1 }], [k('v/b'), 2]]);
  assert.equal(vs(['ls', `cli/${run}/v/`]).out,
    `${k('v/a')}\n${k('v/b')}\n`);
});

function firstLine(args) {
  const p = spawn(process.execPath, [BIN, ...args], { env: process.env });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`${args}: no line in 15 s`));
    }, 15000);
    p.stdout.on('data', (d) => {
      buf += d;
      if (!buf.includes('\n')) return;
      clearTimeout(timer);
      p.kill();
      resolve(JSON.parse(buf.split('\n')[0]));
    });
  });
}

test('watch --since starts after SEQ, by events and by --poll', async () => {
  const from = vs(['token', 'check']).json.last_seq;
  assert.equal(vs(['put', k('w/1'), '1']).code, 0);
  for (const mode of [[], ['--poll']]) {
    const c = await firstLine(['watch', `cli/${run}/w/`, '--since',
      String(from), ...mode]);
    assert.deepEqual([c.key, c.version], [k('w/1'), 1], String(mode));
    assert.ok(c.seq > from);
  }
});

test('--url names the server, before VERSTORE_URL; a server that is not ' +
  'there is named', async () => {
  const dead = await new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
  const live = process.env.VERSTORE_URL;
  vs(['put', k('u'), '1']);
  const r = vs(['get', k('u'), '--url', live], undefined,
    { VERSTORE_URL: dead });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.json.value, 1);
  for (const [args, env] of [[['--url', dead]], [[], { VERSTORE_URL: dead }]]) {
    const d = vs(['get', k('u'), ...args], undefined, env);
    assert.equal(d.code, 1);
    assert.match(d.err, new RegExp(`^verstore: cannot reach the server at ` +
      `${dead} \\(.*ECONNREFUSED.*\\).*--url or VERSTORE_URL`));
  }
  assert.equal(vs(['get', k('u')], undefined,
    { VERSTORE_URL: 'nope' }).code, 64);
});

test('help: the commands, and each one\'s usage and options, on stdout ' +
  'with exit 0', () => {
  const general = vs(['--help']);
  assert.equal(general.code, 0);
  assert.equal(general.err, '');
  assert.match(general.out, /^usage: verstore /);
  for (const args of [['-h'], ['help']])
    assert.deepEqual(vs(args), general, String(args));
  const put = vs(['help', 'put']);
  assert.equal(put.code, 0);
  assert.match(put.out, /^usage: verstore put KEY \[VALUE\] /);
  for (const flag of ['--if-version N', '--force', '--merge', '--url URL',
    '--token TOKEN', '-h, --help'])
    assert.ok(put.out.includes(`\n  ${flag}  `), flag);
  assert.match(put.out, /process list|\(ps/);
  for (const args of [['put', '--help'], ['put', '-h'], ['put', k('x'), 'v',
    '--help']])
    assert.deepEqual(vs(args), put, String(args));
  const add = vs(['token', 'add', '--help']);
  assert.equal(add.code, 0);
  assert.match(add.out, /^usage: verstore token add NAME .*--prefix P/);
  assert.deepEqual(vs(['help', 'token', 'add']), add);
  assert.match(vs(['help', 'token']).out, /token check.*\n.*token add/);
  const pkg = JSON.parse(readFileSync(new URL('../package.json',
    import.meta.url)));
  assert.deepEqual([vs(['--version']).code, vs(['--version']).out],
    [0, `verstore ${pkg.version}\n`]);
});
