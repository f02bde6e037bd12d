// N1 echo server peer: Node net. usage: node echo_node.js PORT
const net = require('net');
net.createServer({ noDelay: true }, (s) => {
  s.on('data', (d) => s.write(d));
  s.on('error', () => {});
}).listen(+process.argv[2], '127.0.0.1', 1024);
