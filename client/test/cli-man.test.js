// doc/verstore.1 is the manual of client/bin/verstore: its synopsis names
// every command with the arguments and options that the program takes,
// its OPTIONS list every option, and its EXIT STATUS every status, no
// more and no less. The program's side is read from its own help, which
// it prints from the table its parser reads.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/verstore', import.meta.url));
const MAN = fileURLToPath(new URL('../../doc/verstore.1', import.meta.url));

const helps = new Map();
function help(...args) {
  const key = args.join(' ');
  if (!helps.has(key)) {
    const p = spawnSync(process.execPath, [BIN, 'help', ...args],
      { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    helps.set(key, p.stdout);
  }
  return helps.get(key);
}

/* the lines of section name of the page */
function section(page, name) {
  const at = page.indexOf(`\n.Sh ${name}\n`);
  assert.ok(at >= 0, `no section ${name}`);
  const rest = page.slice(at + name.length + 6);
  return rest.slice(0, rest.search(/^\.Sh /m)).split('\n');
}

/* the options named in roff text: Fl \-if-version, Fl c, Fl h | \-help */
const manFlags = (text) => [...text.matchAll(/(?:Fl|\|) (\\-)?([\w-]+)/g)]
  .map((m) => (m[1] ? '--' : '-') + m[2]);
/* and in the program's usage text: [--if-version N], [-c FILE] */
const progFlags = (text) => [...text.matchAll(/(?<![\w-])(--?[a-z][\w-]*)/g)]
  .map((m) => m[1]);

/* the page's synopsis: {command: {args, flags}}, '' for none */
function manSynopsis(page) {
  const blocks = {};
  let cur = null;
  for (const line of section(page, 'SYNOPSIS')) {
    if (line === '.Nm') {
      cur = { cmd: [], args: [], flags: [] };
      continue;
    }
    let m;
    if ((m = /^\.Cm (.+)$/.exec(line))) cur.cmd.push(m[1]);
    else if ((m = /^\.Ar (\w+)$/.exec(line))) cur.args.push(m[1].toUpperCase());
    else if ((m = /^\.Op Ar (\w+)$/.exec(line)))
      cur.args.push(`[${m[1].toUpperCase()}]`);
    cur.flags.push(...manFlags(line));
    blocks[cur.cmd.join(' ') || cur.args.join(' ') || cur.flags.join(' ')] =
      cur;
  }
  return blocks;
}

/* the program's commands, from `verstore help`: {command: {args, flags}} */
function progSynopsis() {
  const list = help().split('\ncommands:\n')[1].split('\n\n')[0];
  const cmds = {};
  for (const line of list.split('\n')) {
    const m = /^ {2}([a-z]+(?: [a-z]+)?)((?: [A-Z[][A-Z\]]*)*) {2,}/.exec(line);
    if (!m) continue;		/* the second line of a description */
    const usage = help(...m[1].split(' ')).split('\n\n')[0];
    const words = usage.replace(/^usage: verstore /, '').split(/\s+/);
    assert.equal(words.slice(0, m[1].split(' ').length).join(' '), m[1]);
    cmds[m[1]] = {
      args: m[2].trim() ? m[2].trim().split(' ') : [],
      flags: progFlags(usage),
      listed: progFlags(help(...m[1].split(' ')).split('\noptions:\n')[1]),
    };
  }
  return cmds;
}

test('the manual\'s synopsis names each command, its arguments and its ' +
  'options as the program takes them', () => {
  const page = readFileSync(MAN, 'utf8');
  const man = manSynopsis(page), prog = progSynopsis();
  assert.ok(Object.keys(prog).length >= 14, Object.keys(prog).join());
  const commands = Object.keys(man).filter((c) => /^[a-z]/.test(c));
  assert.deepEqual(commands.sort(), Object.keys(prog).sort());
  for (const [cmd, p] of Object.entries(prog)) {
    assert.deepEqual(man[cmd].args, p.args, cmd);
    assert.deepEqual(man[cmd].flags, p.flags, cmd);
    // the help's synopsis and its list agree, -h and --help added
    assert.deepEqual([...p.flags, '-h', '--help'], p.listed, cmd);
  }
  // what is not a command: -h | --help after one, and --version
  const general = help().split('\n\n')[0];
  assert.deepEqual(Object.keys(man).filter((c) => !/^[a-z]/.test(c)).sort(),
    ['--version', 'COMMAND'].sort());
  assert.deepEqual(man.COMMAND.flags, ['-h', '--help']);
  assert.match(general, /\| --help \| --version$/m);
});

test('the manual\'s OPTIONS are the program\'s options, and its COMMANDS ' +
  'its commands', () => {
  const page = readFileSync(MAN, 'utf8');
  const prog = progSynopsis();
  const all = new Set(['--version',
    ...Object.values(prog).flatMap((p) => p.listed)]);
  const listed = section(page, 'OPTIONS').filter((l) => l.startsWith('.It '))
    .flatMap(manFlags);
  assert.deepEqual(listed.sort(), [...all].sort());
  const commands = section(page, 'COMMANDS')
    .map((l) => /^\.It Cm ([a-z]+(?: [a-z]+)?)(?: Ar| Op|$)/.exec(l)?.[1])
    .filter(Boolean);
  assert.deepEqual(commands.sort(), Object.keys(prog).sort());
});

test('the manual\'s EXIT STATUS is the program\'s', () => {
  const page = readFileSync(MAN, 'utf8');
  const man = section(page, 'EXIT STATUS')
    .map((l) => /^\.It (\d+)$/.exec(l)?.[1]).filter(Boolean);
  const prog = [...help().split('\nexit status:\n')[1]
    .matchAll(/^ {2}(\d+) /gm)].map((m) => m[1]);
  assert.deepEqual(man, prog);
  assert.deepEqual(prog, ['0', '1', '2', '3', '4', '64']);
});

test('the manual formats without a warning',
  { skip: spawnSync('groff', ['--version']).status === 0 ? false :
    'needs groff' }, () => {
    const p = spawnSync('groff', ['-mdoc', '-Tutf8', '-ww', '-z', MAN],
      { encoding: 'utf8' });
    assert.equal(p.status, 0);
    assert.equal(p.stderr, '');
  });
