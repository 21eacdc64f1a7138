// Prints the first load's size (the JS and CSS index.html pulls in, gzipped) and
// fails above the budget of 150 KB.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const BUDGET = 150 * 1024;
const dist = new URL('../dist/', import.meta.url).pathname;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
let first = 0;
for (const r of refs) first += gzipSync(readFileSync(join(dist, r)), { level: 9 }).length;
let all = 0;
for (const f of readdirSync(join(dist, 'assets'))) {
  if (/\.(js|css)$/.test(f)) all += gzipSync(readFileSync(join(dist, 'assets', f)), { level: 9 }).length;
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`first load: ${kb(first)} gzipped JS+CSS (${refs.length} files; all assets ${kb(all)}; budget ${kb(BUDGET)})`);
if (first > BUDGET) {
  console.error('first load is over the budget');
  process.exit(1);
}
