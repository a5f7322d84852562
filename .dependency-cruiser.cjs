// The layers of src/ (README, "Layout"), checked by `npm test` with dependency-cruiser.
// Each layer imports only from itself and the layers below it; nothing imports in a
// circle. From the bottom:
//
//   ws      src/ws        the engine: codec, protocol, session, deflate (no sockets)
//   wire    src/h1|h2|h3  validators, transports, HTTP/3 framing and QPACK, QUIC, clients
//   scale   src/scale     topics across processes (Redis, a cluster's primary), beside the wire
//   server  src/server    request handler, routes, listen/attach per version
//   client  src/client    connect, the reconnecting client, the WHATWG WebSocket
//   compat  src/compat    other libraries' APIs on omniws (omniws/ws: ws 8's), over server and client
//   adapters  src/adapters  Fastify, Express and Hono on omniws (omniws/fastify, /express, /hono):
//           over server and client, beside compat (neither imports the other)
//   dev     src/dev       certificates, the interop server and page
//   conformance  src/conformance  the case table, its judge and raw peers for every version:
//           a tool on top of the library (`omniws conformance`), which nothing below imports
//   face    src/index.ts, src/cli.ts, src/exports/ (the package's entry points)
//
// server and client are siblings: neither imports the other. The wire never imports scale.
// The parser is swc: TypeScript 7 ships no JS API for dependency-cruiser's tsc parser.

const face = '^src/(index|cli)\\.ts$|^src/exports/';
const above = {
  ws: `^src/(h[123]|scale|server|client|compat|adapters|dev|conformance)/|${face}`,
  wire: `^src/(scale|server|client|compat|adapters|dev|conformance)/|${face}`,
  scale: `^src/(server|client|compat|adapters|dev|conformance)/|${face}`,
  server: `^src/(client|compat|adapters|dev|conformance)/|${face}`,
  client: `^src/(server|compat|adapters|dev|conformance)/|${face}`,
  compat: `^src/(adapters|dev|conformance)/|${face}`,
  adapters: `^src/(compat|dev|conformance)/|${face}`,
  dev: `^src/conformance/|${face}`,
  conformance: face,
};

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle: the files in it cannot be read or loaded one before the other',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'ws-imports-down',
      comment: 'src/ws is the engine: it knows no HTTP version, server or client',
      severity: 'error',
      from: { path: '^src/ws/' },
      to: { path: above.ws },
    },
    {
      name: 'ws-no-sockets',
      comment: 'src/ws never touches sockets or HTTP: transports do (design.md)',
      severity: 'error',
      from: { path: '^src/ws/' },
      to: { dependencyTypes: ['core'], path: '^(net|tls|http|http2|https|dgram)$' },
    },
    {
      name: 'wire-imports-down',
      comment:
        'src/h1|h2|h3 carry bytes: they import the engine and each other, never the layers above',
      severity: 'error',
      from: { path: '^src/h[123]/' },
      to: { path: above.wire },
    },
    {
      name: 'scale-imports-down',
      comment: 'src/scale carries topics between processes: below the servers, like the wire',
      severity: 'error',
      from: { path: '^src/scale/' },
      to: { path: above.scale },
    },
    {
      name: 'one-redis-file',
      comment:
        'exactly one file loads the Redis client, lazily (the rule quic.ts follows for QUIC)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/scale/redis\\.ts$' },
      to: { path: '@redis/client' },
    },
    {
      name: 'server-imports-down',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: above.server },
    },
    {
      name: 'client-imports-down',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: above.client },
    },
    {
      name: 'compat-imports-down',
      comment:
        'src/compat puts other APIs on omniws: it uses the engine, the wire, server and client, never dev or conformance',
      severity: 'error',
      from: { path: '^src/compat/' },
      to: { path: above.compat },
    },
    {
      name: 'dev-imports-down',
      severity: 'error',
      from: { path: '^src/dev/' },
      to: { path: above.dev },
    },
    {
      name: 'conformance-imports-down',
      severity: 'error',
      from: { path: '^src/conformance/' },
      to: { path: above.conformance },
    },
    {
      name: 'adapters-imports-down',
      comment:
        'src/adapters put Fastify, Express and Hono on omniws: they use the engine, the wire, server and client, never compat, dev or conformance',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: above.adapters },
    },
    {
      name: 'one-quic-file',
      comment:
        'exactly one file loads the QUIC binding (design.md), so it can be replaced and loaded lazily',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/h3/quic\\.ts$' },
      to: { path: '@matrixai/quic' },
    },
  ],
  options: {
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  },
};
