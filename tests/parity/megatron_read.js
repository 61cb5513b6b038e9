// megatron_read: an independent reader of Megatron indexed datasets, written from the format
// of megatron/core/datasets/indexed_dataset.py (.idx: "MMIDIDX\0\0", u64 version 1, u8 dtype
// code, u64 sequence count, u64 document count, int32 lengths, int64 byte pointers, int64
// document indices; .bin: raw little-endian ids). It decodes every document of DIR/part-*
// with Hugging Face tokenizers and checks them against the expected texts (one JSON string
// per line, in order):
//   node megatron_read.js DIR TOKENIZER.json TEXTS MODE [EOD]
// MODE plain: each document is TEXT+EOD, in order; fim: each is TEXT+EOD or
// <|fim_suffix|>S<|fim_prefix|>P<|fim_middle|>M+EOD with P+M+S = TEXT; shuffled: the
// documents are the texts in some order (each plain or FIM). Prints "documents N tokens T
// fim F"; with FIM_LIST=FILE in the environment, also writes 1 or 0 per document (in dataset
// order) to FILE: whether it is a FIM example.
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');
const [dir, tokPath, textsPath, mode, eodArg] = process.argv.slice(2);
const EOD = eodArg === undefined ? '<|endoftext|>' : eodArg;
const SIZES = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 8: 2 };

function readIndex(p) {
  const b = fs.readFileSync(p);
  if (b.subarray(0, 9).toString('latin1') !== 'MMIDIDX\0\0') throw new Error(`${p}: bad magic`);
  if (b.readBigUInt64LE(9) !== 1n) throw new Error(`${p}: bad version`);
  const code = b.readUInt8(17);
  const nseq = Number(b.readBigUInt64LE(18)), ndoc = Number(b.readBigUInt64LE(26));
  let o = 34;
  const lens = [], ptrs = [], docIdx = [];
  for (let i = 0; i < nseq; i++, o += 4) lens.push(b.readInt32LE(o));
  for (let i = 0; i < nseq; i++, o += 8) ptrs.push(Number(b.readBigInt64LE(o)));
  for (let i = 0; i < ndoc; i++, o += 8) docIdx.push(Number(b.readBigInt64LE(o)));
  if (o !== b.length) throw new Error(`${p}: ${b.length - o} trailing bytes`);
  if (docIdx[0] !== 0 || docIdx[ndoc - 1] !== nseq) throw new Error(`${p}: bad document indices`);
  return { code, lens, ptrs, size: SIZES[code] };
}

async function main() {
  const tok = Tokenizer.fromFile(tokPath);
  const texts = fs.readFileSync(textsPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
  const parts = fs.readdirSync(dir).filter((f) => /^part-\d+\.idx$/.test(f)).sort();
  const docs = [];
  let tokens = 0;
  for (const f of parts) {
    const ix = readIndex(path.join(dir, f));
    const bin = fs.readFileSync(path.join(dir, f.replace(/\.idx$/, '.bin')));
    for (let i = 0; i < ix.lens.length; i++) {
      const ids = [];
      for (let k = 0; k < ix.lens[i]; k++) {
        const at = ix.ptrs[i] + k * ix.size;
        ids.push(ix.size === 2 ? bin.readUInt16LE(at) : bin.readInt32LE(at));
      }
      tokens += ids.length;
      docs.push(await tok.decode(ids, false));
    }
  }
  if (docs.length !== texts.length) throw new Error(`${docs.length} documents, expected ${texts.length}`);
  let fim = 0;
  const flags = [];
  const plain = docs.map((doc, i) => {
    let d = doc;
    if (!d.endsWith(EOD)) throw new Error(`document ${i} lacks the EOD token`);
    d = d.slice(0, d.length - EOD.length);
    const m = mode !== 'plain' && /^<\|fim_suffix\|>([\s\S]*)<\|fim_prefix\|>([\s\S]*)<\|fim_middle\|>([\s\S]*)$/.exec(d);
    flags.push(m ? 1 : 0);
    if (m) { fim++; d = m[2] + m[3] + m[1]; }
    return d;
  });
  if (mode === 'shuffled') {
    const a = plain.slice().sort(), b = texts.slice().sort();
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error('documents differ from the texts');
    if (plain.every((d, i) => d === texts[i])) throw new Error('shuffle kept the input order');
  } else {
    for (let i = 0; i < plain.length; i++)
      if (plain[i] !== texts[i]) throw new Error(`document ${i} decodes to other text`);
  }
  if (process.env.FIM_LIST) fs.writeFileSync(process.env.FIM_LIST, flags.join('\n') + '\n');
  console.log(`documents ${docs.length} tokens ${tokens} fim ${fim}`);
}
main().catch((e) => { console.error(`megatron_read: ${e.message}`); process.exit(1); });
