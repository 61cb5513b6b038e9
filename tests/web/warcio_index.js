// warcio_index.js FILE...: the reference reading of WARC files with warcio.js (npm warcio@1.0.3):
// one JSON line per record: type, record id, target URI, and for responses the HTTP status and
// MIME type. Run with NODE_PATH=$WARCIO_NODE_PATH (tests/web/env.sh).
const fs = require('fs');
const { WARCParser } = require('warcio');

async function index(path) {
  const parser = new WARCParser();
  for await (const record of parser.iterRecords(fs.createReadStream(path))) {
    const out = {
      file: path,
      type: record.warcType,
      id: (record.warcHeader('WARC-Record-ID') || '').replace(/^<|>$/g, ''),
      uri: (record.warcTargetURI || '').replace(/^<|>$/g, ''),
    };
    if (record.httpHeaders && record.warcType === 'response') {
      const h = record.httpHeaders;
      out.status = Number((h.statusText || '').split(' ')[0]);
      let ct = '';
      for (const [k, v] of h.headers) if (k.toLowerCase() === 'content-type') ct = v;
      out.mime = ct.split(';')[0].trim().toLowerCase();
    }
    await record.readFully();
    console.log(JSON.stringify(out));
  }
}

(async () => {
  for (const f of process.argv.slice(2)) await index(f);
})().catch((e) => { console.error(e); process.exit(1); });
