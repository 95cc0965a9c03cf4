// Runs after `npm run build` (npm "postbuild"): the built app must fit the app's CSP —
// no inline <script>/<style>, no style="" or on…="" attributes, no eval, nothing remote.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const problems = [];
const html = readFileSync(join(dist, 'index.html'), 'utf8');

for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  if (!/\bsrc=/.test(m[1]) || m[2].trim() !== '') problems.push('inline <script> in index.html');
}
if (/<style\b/i.test(html)) problems.push('inline <style> in index.html');
if (/\sstyle\s*=/i.test(html)) problems.push('style="" attribute in index.html');
if (/\son[a-z]+\s*=/i.test(html)) problems.push('inline event handler in index.html');
if (/(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html)) problems.push('remote URL in index.html');

const assets = join(dist, 'assets');
for (const file of readdirSync(assets)) {
  const text = readFileSync(join(assets, file), 'utf8');
  if (file.endsWith('.js') && /\beval\s*\(|\bnew Function\s*\(/.test(text)) problems.push(`eval/new Function in ${file}`);
  if (file.endsWith('.css') && /@import|url\(\s*["']?(https?:)?\/\//i.test(text)) problems.push(`remote import/url() in ${file}`);
}

if (problems.length) {
  console.error('dist check FAILED:\n  ' + problems.join('\n  '));
  process.exit(1);
}
console.log('dist check: index.html has no inline script/style; no eval; no remote assets');
