// reference: the ids the reference tokenizers give for a file's whole content, printed as
// decimal integers separated by spaces (the format of `curate tokenizer encode`).
//   node reference.js hf TOKENIZER.json FILE      Hugging Face tokenizers (native binding)
//   node reference.js tiktoken ENCODING FILE      OpenAI tiktoken (encode_ordinary)
// The file is read as bytes and decoded as UTF-8 by Node (invalid bytes become U+FFFD per
// maximal subpart), which is the string the references see. NODE_PATH must reach the
// installed packages (tests/parity/env.sh sets it). Time spent encoding goes to stderr.
//   node reference.js hf-chunks|tiktoken-chunks TOKENIZER|ENCODING FILE   (benchmark)
const fs = require('fs');
const [kind, tok, file] = process.argv.slice(2);
const text = fs.readFileSync(file).toString('utf8');

function print(ids, seconds) {
  process.stderr.write(`encode_seconds ${seconds.toFixed(4)}\n`);
  const out = [];
  for (let i = 0; i < ids.length; i += 65536)
    out.push(ids.slice(i, i + 65536).join(' '));
  process.stdout.write(out.join(' ') + '\n');
}

// bench modes (hf-chunks, tiktoken-chunks): the text in documents of about 8 KB cut at
// line ends, encoded one after another on one thread; prints only the encode seconds.
function chunks(t) {
  const out = [];
  for (let i = 0; i < t.length;) {
    let j = t.indexOf('\n', i + 8192);
    j = j < 0 ? t.length : j + 1;
    out.push(t.slice(i, j));
    i = j;
  }
  return out;
}

async function bench() {
  const docs = chunks(text);
  let t0, n = 0;
  if (kind === 'hf-chunks') {
    const { Tokenizer } = require('tokenizers');
    const t = Tokenizer.fromFile(tok);
    t0 = process.hrtime.bigint();
    for (const d of docs) n += (await t.encode(d, null, { addSpecialTokens: false })).getIds().length;
  } else {
    const { get_encoding } = require('tiktoken');
    const e = get_encoding(tok);
    t0 = process.hrtime.bigint();
    for (const d of docs) n += e.encode_ordinary(d).length;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${s.toFixed(4)} ${n}`);
}

// Whole-file parity in pieces: HF's encode slows down badly on one multi-megabyte string,
// so the text is cut where no pre-tokenizer pattern can join across the cut (after a
// newline that follows a non-space and precedes an ASCII letter: every pattern ends a piece
// at that newline and starts a new one at the letter), and the ids are concatenated.
function safePieces(t) {
  const out = [], re = /(?<=\S)\n(?=[A-Za-z])/g;
  let i = 0;
  while (i < t.length) {
    re.lastIndex = i + 65536;
    const m = i + 65536 < t.length ? re.exec(t) : null;
    const j = m ? m.index + 1 : t.length;
    out.push(t.slice(i, j));
    i = j;
  }
  return out;
}

async function main() {
  if (kind.endsWith('-chunks')) return bench();
  const pieces = safePieces(text), ids = [];
  if (kind === 'hf') {
    const { Tokenizer } = require('tokenizers');
    const t = Tokenizer.fromFile(tok);
    const t0 = process.hrtime.bigint();
    for (const p of pieces) for (const id of (await t.encode(p, null, { addSpecialTokens: false })).getIds()) ids.push(id);
    print(ids, Number(process.hrtime.bigint() - t0) / 1e9);
  } else if (kind === 'tiktoken') {
    const { get_encoding } = require('tiktoken');
    const e = get_encoding(tok);
    const t0 = process.hrtime.bigint();
    for (const p of pieces) for (const id of e.encode_ordinary(p)) ids.push(id);
    print(ids, Number(process.hrtime.bigint() - t0) / 1e9);
    e.free();
  } else {
    throw new Error('kind must be hf or tiktoken');
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
