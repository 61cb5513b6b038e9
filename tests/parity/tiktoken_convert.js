// tiktoken_convert: writes the standard .tiktoken rank file (base64 token, space, rank per
// line, rank order) from the compact rank format in npm tiktoken's encoders/NAME.json, whose
// bpe_ranks is lines of "KEY START TOKEN TOKEN ...": base64 tokens with consecutive ranks
// from START.   node tiktoken_convert.js encoders/cl100k_base.json OUT.tiktoken
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
const j = JSON.parse(fs.readFileSync(src, 'utf8'));
const rows = [];
for (const line of j.bpe_ranks.split('\n')) {
  const f = line.split(' ');
  if (f.length < 2) continue;
  let rank = parseInt(f[1], 10);
  for (let i = 2; i < f.length; i++) rows.push(`${f[i]} ${rank++}`);
}
fs.writeFileSync(dst + '.tmp', rows.join('\n') + '\n');
fs.renameSync(dst + '.tmp', dst);
