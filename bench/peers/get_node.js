// N3 HTTP client peer: Node http with a keep-alive Agent of at most C
// sockets. Prints ok=N bytes=B. usage: node get_node.js URL N C
const http = require('http');
const [url, n, c] = [process.argv[2], +process.argv[3], +process.argv[4]];
const agent = new http.Agent({ keepAlive: true, maxSockets: c });
let left = n, ok = 0, bytes = 0, done = 0;
function one() {
  if (left <= 0) return;
  left--;
  http.get(url, { agent }, (res) => {
    let len = 0;
    res.on('data', (d) => { len += d.length; });
    res.on('end', () => {
      if (res.statusCode === 200) { ok++; bytes += len; }
      finish();
    });
  }).on('error', finish);
}
function finish() {
  if (++done === n) {
    console.log(`ok=${ok} bytes=${bytes}`);
    agent.destroy();
    process.exitCode = ok === n ? 0 : 1;
  } else {
    one();
  }
}
for (let i = 0; i < c; i++) one();
