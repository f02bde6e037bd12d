// N2 HTTP server peer: Node http. usage: node http_node.js PORT
const http = require('http');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 13 });
  res.end('Hello, World!');
});
server.keepAliveTimeout = 60000;
server.listen(+process.argv[2], '127.0.0.1', 1024);
