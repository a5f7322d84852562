// omniws/dev: what development and interop testing use: a local CA and localhost
// certificate, the interop server behind `npm start` (echo, info and pubsub routes, a
// page that checks a browser over HTTP/1.1, HTTP/2 and HTTP/3), its request handler, and
// the lab (`omniws lab`): a UDP relay that impairs what it carries.

export type { CertPaths, EnsureCertsOptions } from '../dev/certs.js';
export { ensureCerts } from '../dev/certs.js';
export {
  describeSession,
  echoRoute,
  echoRoutes,
  infoRoute,
  PUBSUB_PREFIX,
  pubsubRoute,
  pubsubTopic,
} from '../dev/echo.js';
export type { Endpoint, InteropHandlerOptions, InteropOptions, Served } from '../dev/interop.js';
export { describeServed, interopHandler, serveInterop } from '../dev/interop.js';
export type { Impairment, Lab, LabCounters, LabOptions } from '../dev/lab.js';
export { startLab } from '../dev/lab.js';
export { INTEROP_PAGE } from '../dev/page.js';
