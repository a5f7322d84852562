// The 0.1 names the root keeps for one minor version (0.3 removes them). Each is an
// alias declared here with its own @deprecated note, so editors strike it through and
// docs/api.md says what replaces it; CHANGELOG.md has the migration table. The same
// values live on, undeprecated, in omniws/protocol, omniws/h3 and omniws/dev.

import {
  closeH3Connections as closeH3Connections_,
  connectH3 as connectH3_,
} from '../client/connect.js';
import type {
  CertPaths as CertPaths_,
  EnsureCertsOptions as EnsureCertsOptions_,
} from '../dev/certs.js';
import { ensureCerts as ensureCerts_ } from '../dev/certs.js';
import type { ClientOptions as ClientOptions_ } from '../h1/client.js';
import { connectH1 as connectH1_, parseWsUrl as parseWsUrl_ } from '../h1/client.js';
import {
  acceptKey as acceptKey_,
  validateH1Request as validateH1Request_,
  validateH1Response as validateH1Response_,
} from '../h1/upgrade.js';
import type { H2ClientOptions as H2ClientOptions_ } from '../h2/client.js';
import { closeH2Sessions as closeH2Sessions_, connectH2 as connectH2_ } from '../h2/client.js';
import {
  buildH2Request as buildH2Request_,
  validateH2Request as validateH2Request_,
  validateH2Response as validateH2Response_,
} from '../h2/upgrade.js';
import type { H3ClientOptions as H3ClientOptions_ } from '../h3/client.js';
import {
  buildH3Request as buildH3Request_,
  validateH3Request as validateH3Request_,
  validateH3Response as validateH3Response_,
} from '../h3/upgrade.js';
import type {
  Listener as Listener_,
  ListenOptions as ListenOptions_,
} from '../server/h1-server.js';
import { listen as listen_ } from '../server/h1-server.js';
import type {
  H2Listener as H2Listener_,
  H2ListenOptions as H2ListenOptions_,
  H2Options as H2Options_,
  H2RequestListener as H2RequestListener_,
} from '../server/h2-server.js';
import {
  attachH2 as attachH2_,
  DEFAULT_CONNECTION_WINDOW_SIZE as DEFAULT_CONNECTION_WINDOW_SIZE_,
  DEFAULT_INITIAL_WINDOW_SIZE as DEFAULT_INITIAL_WINDOW_SIZE_,
  listenH2 as listenH2_,
} from '../server/h2-server.js';
import { listenH3 as listenH3_ } from '../server/h3-lazy.js';
import type {
  H3Listener as H3Listener_,
  H3ListenOptions as H3ListenOptions_,
  H3Request as H3Request_,
} from '../server/h3-server.js';
import {
  acceptDeflateResponse as acceptDeflateResponse_,
  buildDeflateOffer as buildDeflateOffer_,
  clientExtensions as clientExtensions_,
  negotiateDeflateServer as negotiateDeflateServer_,
  PerMessageDeflate as PerMessageDeflate_,
} from '../ws/deflate.js';

/** @deprecated `serve({ port, routes })` (HTTP/1.1), or `listen` from omniws/protocol. */
export const listen = listen_;
/** @deprecated the result of `serve()` is a `Server`; `Listener` lives in omniws/protocol. */
export type Listener = Listener_;
/** @deprecated `ServeOptions`; `ListenOptions` lives in omniws/protocol. */
export type ListenOptions = ListenOptions_;
/** @deprecated `serve({ tls, http: [1, 2] })`, or `listenH2` from omniws/protocol. */
export const listenH2 = listenH2_;
/** @deprecated `attach(server, opts)` takes node:http2 servers too. */
export const attachH2 = attachH2_;
/** @deprecated omniws/protocol. */
export const DEFAULT_CONNECTION_WINDOW_SIZE = DEFAULT_CONNECTION_WINDOW_SIZE_;
/** @deprecated omniws/protocol. */
export const DEFAULT_INITIAL_WINDOW_SIZE = DEFAULT_INITIAL_WINDOW_SIZE_;
/** @deprecated `Server`; `H2Listener` lives in omniws/protocol. */
export type H2Listener = H2Listener_;
/** @deprecated `ServeOptions`; `H2ListenOptions` lives in omniws/protocol. */
export type H2ListenOptions = H2ListenOptions_;
/** @deprecated `AttachOptions`. */
export type H2Options = H2Options_;
/** @deprecated `handle` (one handler for every version); omniws/protocol. */
export type H2RequestListener = H2RequestListener_;
/** @deprecated `serve({ tls, http: [3] })`, or `listenH3` from omniws/h3. */
export const listenH3 = listenH3_;
/** @deprecated `Server`; `H3Listener` lives in omniws/h3. */
export type H3Listener = H3Listener_;
/** @deprecated `ServeOptions`; `H3ListenOptions` lives in omniws/h3. */
export type H3ListenOptions = H3ListenOptions_;
/** @deprecated `handle` sees plain HTTP/3 requests as `Request`s; omniws/h3. */
export type H3Request = H3Request_;
/** @deprecated `connect(url, { http: 1 })`. */
export const connectH1 = connectH1_;
/** @deprecated `connect(url, { http: 2 })`. */
export const connectH2 = connectH2_;
/** @deprecated `connect(url, { http: 3 })`. */
export const connectH3 = connectH3_;
/** @deprecated `globalAgent.close()`, or an `Agent` of your own. */
export const closeH2Sessions = closeH2Sessions_;
/** @deprecated `globalAgent.close()`, or an `Agent` of your own. */
export const closeH3Connections = closeH3Connections_;
/** @deprecated `ConnectOptions`. */
export type ClientOptions<S> = ClientOptions_<S>;
/** @deprecated `ConnectOptions`. */
export type H2ClientOptions<S> = H2ClientOptions_<S>;
/** @deprecated `ConnectOptions`. */
export type H3ClientOptions<S> = H3ClientOptions_<S>;
/** @deprecated omniws/protocol. */
export const parseWsUrl = parseWsUrl_;
/** @deprecated omniws/protocol. */
export const acceptKey = acceptKey_;
/** @deprecated omniws/protocol. */
export const validateH1Request = validateH1Request_;
/** @deprecated omniws/protocol. */
export const validateH1Response = validateH1Response_;
/** @deprecated omniws/protocol. */
export const buildH2Request = buildH2Request_;
/** @deprecated omniws/protocol. */
export const validateH2Request = validateH2Request_;
/** @deprecated omniws/protocol. */
export const validateH2Response = validateH2Response_;
/** @deprecated omniws/protocol. */
export const buildH3Request = buildH3Request_;
/** @deprecated omniws/protocol. */
export const validateH3Request = validateH3Request_;
/** @deprecated omniws/protocol. */
export const validateH3Response = validateH3Response_;
/** @deprecated omniws/protocol. */
export const acceptDeflateResponse = acceptDeflateResponse_;
/** @deprecated omniws/protocol. */
export const buildDeflateOffer = buildDeflateOffer_;
/** @deprecated omniws/protocol. */
export const clientExtensions = clientExtensions_;
/** @deprecated omniws/protocol. */
export const negotiateDeflateServer = negotiateDeflateServer_;
/** @deprecated omniws/protocol. */
export const PerMessageDeflate = PerMessageDeflate_;
/** @deprecated omniws/protocol. */
export type PerMessageDeflate = PerMessageDeflate_;
/** @deprecated omniws/dev. */
export const ensureCerts = ensureCerts_;
/** @deprecated omniws/dev. */
export type CertPaths = CertPaths_;
/** @deprecated omniws/dev. */
export type EnsureCertsOptions = EnsureCertsOptions_;
