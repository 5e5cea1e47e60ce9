#!/usr/bin/env node
// A CONNECT proxy on loopback that tunnels only the registries the suite pulls
// from (HOST:443) to the local TLS registry, and refuses everything else, so
// that the suite runs offline and can never reach the network by mistake.
// Usage: proxy.mjs PORT_FILE REGISTRY_PORT HOST...
// Writes the port it listens on to PORT_FILE once it is listening.
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';

const [portFile, registryPortArg, ...hosts] = process.argv.slice(2);
const registryPort = Number(registryPortArg);
if (!portFile || !Number.isInteger(registryPort) || hosts.length === 0) {
  process.stderr.write('usage: proxy.mjs PORT_FILE REGISTRY_PORT HOST...\n');
  process.exit(2);
}
const allowed = new Set(hosts.map((h) => `${h.toLowerCase()}:443`));

const server = createServer((req, res) => {
  // Plain HTTP through the proxy is never needed: the registries are HTTPS.
  res.writeHead(403, { 'content-type': 'text/plain' }).end(`tsshim conformance proxy: ${req.method} ${req.url} refused\n`);
});

server.on('connect', (req, client, head) => {
  const target = String(req.url).toLowerCase();
  if (!allowed.has(target)) {
    process.stderr.write(`proxy: refused CONNECT ${target}\n`);
    client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    return;
  }
  const upstream = connect(registryPort, '127.0.0.1');
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  upstream.once('connect', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', (err) => {
    process.stderr.write(`proxy: registry unreachable for ${target}: ${err.message}\n`);
    if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    closeBoth();
  });
  client.on('error', closeBoth);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');
  writeFileSync(portFile, `${address.port}\n`);
});

for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
