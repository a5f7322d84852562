// The Autobahn-style case table against our HTTP/2 server (an echo route), the peer
// being a raw node:http2 client that writes masked frames into the CONNECT stream.
// Groups 9, 12, 13: the ends of each subgroup by default, all of it with OMNIWS_SOAK=1.

import { h2ServerDriver } from '../../src/conformance/h2.js';
import { registerSuite } from './suite.js';

registerSuite('h2 server', h2ServerDriver, { role: 'server', subset: 'ends' });
