// W1 WebSocket echo server peer: Node's `ws` (Debian's node-ws), no
// compression (as the other servers). usage: node ws_node.js PORT
// (NODE_PATH=/usr/share/nodejs)
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: +process.argv[2], backlog: 1024, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (d, bin) => ws.send(d, { binary: bin }));
  ws.on('error', () => {});
});
