// corpus: writes the parity test's text from files on this machine, the same on every run of
// the same machine: OUT/code.txt (C headers, Python, Perl, JavaScript, shell sources),
// OUT/prose.txt (licences and documentation, then translated messages in many scripts read
// out of /usr/share/locale/*/LC_MESSAGES/*.mo) and OUT/edge.txt (emoji, combining marks,
// Unicode spaces, special-token strings, invalid UTF-8, long runs of one character).
//   node corpus.js OUTDIR [MEGABYTES, default 11]
const fs = require('fs');
const path = require('path');
const [out, mbArg] = process.argv.slice(2);
const total = (parseFloat(mbArg || '11')) * 1e6;

function walk(dir, re, acc, limit) {
  let names;
  try { names = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of names) {
    if (acc.size >= limit) return;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, re, acc, limit);
    else if (e.isFile() && re.test(e.name)) {
      let b;
      try { b = fs.readFileSync(p); } catch { continue; }
      if (b.length > 200000) continue;
      acc.parts.push(b);
      acc.size += b.length;
    }
  }
}

function gather(sources, limit) {
  const acc = { parts: [], size: 0 };
  for (const [dir, re, share] of sources) {
    const before = acc.size;
    walk(dir, re, acc, Math.min(limit, before + share * limit));
  }
  return Buffer.concat(acc.parts);
}

// translated strings (msgstr) of .mo catalogues: many scripts, real prose
function moStrings(limit) {
  const parts = [];
  let size = 0;
  const base = '/usr/share/locale';
  let langs = [];
  try { langs = fs.readdirSync(base).sort(); } catch { }
  const perLang = (limit / Math.max(1, langs.length)) * 1.5;
  for (const lang of langs) {
    const langStart = size;
    const dir = path.join(base, lang, 'LC_MESSAGES');
    let files = [];
    try { files = fs.readdirSync(dir).filter((f) => f.endsWith('.mo')).sort(); } catch { continue; }
    for (const f of files.slice(0, 2)) {
      const b = fs.readFileSync(path.join(dir, f));
      if (b.length < 28) continue;
      const le = b.readUInt32LE(0) === 0x950412de;
      const rd = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
      const n = rd(8), tt = rd(16);
      for (let i = 0; i < n && size < limit && size - langStart < perLang; i++) {
        const len = rd(tt + 8 * i), off = rd(tt + 8 * i + 4);
        if (off + len > b.length) break;
        const s = b.subarray(off, off + len);
        parts.push(s, Buffer.from('\n'));
        size += len + 1;
      }
    }
  }
  return Buffer.concat(parts);
}

function edge() {
  const s = [];
  const cp = (a, b, step = 1) => { let r = ''; for (let c = a; c <= b; c += step) r += String.fromCodePoint(c); return r; };
  s.push(cp(0x1f300, 0x1f6ff) + ' ' + cp(0x1f900, 0x1f9ff));
  s.push('👨‍👩‍👧‍👦 👍🏽 🏳️‍🌈 🇫🇷🇯🇵 ❤️ 1️⃣ ' + '🙂'.repeat(500));
  s.push('e\u0301 a\u0308\u0304 \u1100\u1161\u11a8 Å Å ﬁ ① ｶ ﾞ \u0958 क\u093c \u212b K ſ ST Ǆ');
  s.push('it\'s IT\'S It\u2019s we\'ll WE\'LL I\'d they\'VE \'s \'S ſ\'ſ');
  s.push('a\u00a0b\u1680c\u2000d\u200ae\u2028f\u2029g\u202fh\u205fi\u3000j\u0085k\u180el\u200bm\ufeffn\u000bo\u000cp');
  s.push(' \t \n\n  \r\n\t\t x  \n   y\u3000\u3000z   ');
  s.push('<|endoftext|> <|fim_prefix|>a<|fim_suffix|>b<|fim_middle|> <|im_start|>user<|im_end|> <|begin_of_text|><|eot_id|> <|end_of_text|>');
  s.push('1234567890 ١٢٣٤٥٦٧٨٩٠ ١٢٣ ۱۲۳ ४५६ 一二三 ½ ² 3.14159 1e-10 0x7fffffff 1_000_000');
  s.push(cp(0x20, 0x7e) + cp(0xa0, 0x24f) + cp(0x370, 0x3ff) + cp(0x400, 0x4ff) + cp(0x590, 0x6ff));
  // U+0EBA is left out: HF normalizes with pre-Unicode-12 data (docs/tokenize.md)
  s.push(cp(0x900, 0xdff) + cp(0xe00, 0xeb9) + cp(0xebb, 0xeff) + cp(0x10a0, 0x10ff) + cp(0x1100, 0x11ff) + cp(0x3040, 0x30ff));
  s.push(cp(0x4e00, 0x4fff) + cp(0xac00, 0xadff) + cp(0xff00, 0xffef) + cp(0x10000, 0x1007f) + cp(0x20000, 0x2007f));
  let text = Buffer.from(s.join('\n') + '\n');
  const runs = [];
  // long runs of one character: tiktoken's merge is quadratic in a piece's length, so
  // these stay at 10k here (curate's linear merge is tested on 1 MB runs in test_bpe)
  for (const [ch, n] of [['a', 10000], [' ', 10000], ['\n', 10000], ['7', 10000], ['!', 10000],
                         ['é', 10000], ['字', 10000], ['🙂', 5000], [' \n', 10000], ['ab', 5000],
                         ['\t ', 10000], ['\u0301', 5000], [' a', 10000], ['a1', 5000]])
    runs.push(Buffer.from(ch.repeat(n) + '\n'));
  // invalid UTF-8: lone continuation bytes, truncated sequences, overlongs, surrogates,
  // bytes above F4, and a deterministic pseudo-random byte soup
  const bad = [Buffer.from([0x80, 0x41, 0xbf, 0x20, 0xc3, 0x20, 0xe2, 0x82, 0x20, 0xf0, 0x9f, 0x98]),
               Buffer.from([0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf, 0xf5, 0xff, 0xfe]),
               Buffer.from('caf\xe9 na\xefve', 'latin1')];
  let x = 12345;
  const soup = Buffer.alloc(200000);
  for (let i = 0; i < soup.length; i++) { x = (x * 1103515245 + 12345) >>> 0; soup[i] = (x >>> 16) & 0xff; }
  return Buffer.concat([text, ...runs, ...bad, soup, Buffer.from('\n'), text]);
}

fs.mkdirSync(out, { recursive: true });
const code = gather([
  ['/usr/include', /\.(h|hpp)$/, 0.4],
  ['/usr/lib/python3', /\.py$/, 0.3],
  ['/usr/lib/python3.11', /\.py$/, 0.3],
  ['/usr/share/perl', /\.pm$/, 0.15],
  ['/usr/share/perl5', /\.pm$/, 0.15],
  ['/usr/lib/node_modules', /\.(js|ts)$/, 0.1],
  ['/usr/share/bash-completion', /.*/, 0.05],
  ['/usr/include', /\.(h|hpp)$/, 1],
], total * 0.5);
const docs = gather([
  ['/usr/share/common-licenses', /.*/, 0.3],
  ['/usr/share/doc', /^(README|NEWS|copyright|changelog)(\.(md|txt|Debian))?$/i, 1],
], total * 0.15);
const prose = Buffer.concat([docs, Buffer.from('\n'), moStrings(total * 0.2)]);
const e = edge();
fs.writeFileSync(path.join(out, 'code.txt'), code);
fs.writeFileSync(path.join(out, 'prose.txt'), prose);
fs.writeFileSync(path.join(out, 'edge.txt'), e);
console.log(`corpus: code ${code.length} prose ${prose.length} edge ${e.length} bytes`);
