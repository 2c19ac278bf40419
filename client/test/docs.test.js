// Every exported class, function and method of the module and the dialog
// has a JSDoc comment, which is what editors show and complete from.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

for (const file of ['verstore.js', 'offline.js', 'conflict.js']) {
  test(`${file}: every export and method is documented`, () => {
    const lines = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8')
      .split('\n');
    const bare = [];
    let n = 0;
    lines.forEach((line, i) => {
      if (!/^(export (async )?(class|function)|  (static |async \*?|get )?[a-zA-Z]\w*\()/.test(line))
        return;
      if (/^  (if|for|while|switch|catch)\b/.test(line)) return;
      n++;
      let j = i - 1;
      while (j >= 0 && lines[j].trim() === '') j--;
      if (!lines[j]?.trim().endsWith('*/')) bare.push(`${i + 1}: ${line.trim()}`);
    });
    assert.ok(n >= ({ 'verstore.js': 27, 'offline.js': 20 }[file] ?? 5),
      `only ${n} found`);
    assert.deepEqual(bare, []);
  });
}
