// Node's `ws` as the permessage-deflate peer of test_ws_autobahn_deflate
// (autobahn's sections 12 and 13). NODE_PATH=/usr/share/nodejs.
//   node ws_deflate_peer.js server '[OPTIONS, ...]'
//       an echo server per OPTIONS; prints their ports on one line, then
//       "ext I PARAMS" for each connection to server I (the parameters it
//       agreed, as JSON); runs until killed
//   node ws_deflate_peer.js client PORT '[{"options": OPTIONS, "plan": PLAN}, ...]'
//       one connection after another to ws://127.0.0.1:PORT/ws, each
//       printing "ext I PARAMS", then for each "kind:size:frag:count" of
//       PLAN (comma-separated) sending count messages of size bytes cut from
//       its test data (a cursor that wraps, as autobahn's does), in frames
//       of frag bytes (0: one frame), checking that each comes back whole;
//       then a close 1000 and "ok I N" (messages echoed). Exit status 0
//       only if every run did so.
// OPTIONS are ws's perMessageDeflate options; threshold 0 is added so that
// small messages are compressed too.
'use strict';
const WebSocket = require('ws');

// Test data as autobahn's kinds: JSON text, a smooth bitmap with noise, and
// incompressible bytes (its PDF). Records repeat far apart (past a 9-bit
// window) as well as near, so a wrong window or a kept context shows.
function testData(kind) {
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
  if (kind === 'json') {
    const words = [];
    for (let i = 0; i < 300; i++) words.push(rnd().toString(36) + 'é' + rnd().toString(36));
    let s = '[';
    for (let i = 0; s.length < 70000; i++) {
      s += JSON.stringify({id: i, name: words[rnd() % words.length], tags: [words[rnd() % 40], words[rnd() % 300]],
                           score: rnd() % 1000, note: 'Καλημέρα κόσμε'}) + ',\n';
    }
    return Buffer.from(s + '{}]');
  }
  const b = Buffer.alloc(65536);
  for (let i = 0; i < b.length; i++)
    b[i] = kind === 'bitmap' ? ((i % 512) / 2 + (i >> 9) + (rnd() % 8)) & 255 : rnd() & 255;
  return b;
}

const opts = (o) => Object.assign({threshold: 0}, o);
const agreed = (ws) => {
  const e = ws._extensions['permessage-deflate'];
  return JSON.stringify(e ? e.params : null);
};

if (process.argv[2] === 'server') {
  const ports = [];
  const list = JSON.parse(process.argv[3]);
  list.forEach((o, i) => {
    const wss = new WebSocket.WebSocketServer({host: '127.0.0.1', port: 0, perMessageDeflate: opts(o)});
    wss.on('listening', () => {
      ports[i] = wss.address().port;
      if (ports.filter((p) => p).length === list.length) console.log(ports.join(' '));
    });
    wss.on('connection', (ws) => {
      console.log('ext ' + i + ' ' + agreed(ws));
      ws.on('message', (d, bin) => ws.send(d, {binary: bin}));
      ws.on('error', () => {}); // ws closes with the code; weft's side reports it
    });
  });
} else {
  const port = process.argv[3];
  const runs = JSON.parse(process.argv[4]);
  const data = {};
  const fail = (why) => { console.log('fail ' + why); process.exit(2); };
  const run = (r) => {
    if (r === runs.length) process.exit(0);
    const ws = new WebSocket('ws://127.0.0.1:' + port + '/ws', {perMessageDeflate: opts(runs[r].options), maxPayload: 0});
    const steps = [];
    for (const p of runs[r].plan.split(',')) {
      const [kind, size, frag, count] = p.split(':');
      if (!data[kind]) data[kind] = {buf: testData(kind), at: 0};
      for (let i = 0; i < +count; i++) steps.push({kind, size: +size, frag: +frag});
    }
    let n = 0, want = null, wantBin = false;
    const next = () => {
      if (n === steps.length) return ws.close(1000, 'done');
      const {kind, size, frag} = steps[n];
      const d = data[kind];
      let m = Buffer.alloc(size);
      for (let i = 0; i < size; i++) m[i] = d.buf[(d.at + i) % d.buf.length];
      d.at = (d.at + size) % d.buf.length;
      const bin = kind !== 'json';
      // A text message must be UTF-8: characters cut at the ends become '?'.
      if (!bin) m = Buffer.from(m.toString('utf8').replace(/\uFFFD/g, '?'));
      want = m, wantBin = bin;
      if (!frag || !m.length) return ws.send(m, {binary: bin});
      for (let off = 0; off < m.length; off += frag) {
        const end = Math.min(off + frag, m.length);
        ws.send(m.subarray(off, end), {binary: bin, fin: end === m.length});
      }
    };
    ws.on('open', () => { console.log('ext ' + r + ' ' + agreed(ws)); next(); });
    ws.on('message', (d, bin) => {
      if (bin !== wantBin || !want.equals(d))
        fail('run ' + r + ' message ' + n + ' differs (' + d.length + ' bytes back, ' + want.length + ' sent)');
      n++;
      next();
    });
    ws.on('close', (code) => {
      if (code !== 1000 || n !== steps.length) fail('run ' + r + ' closed ' + code + ' after ' + n);
      console.log('ok ' + r + ' ' + n);
      run(r + 1);
    });
    ws.on('error', (e) => fail('run ' + r + ': ' + e.message));
  };
  run(0);
}
