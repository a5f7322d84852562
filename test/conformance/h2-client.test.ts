// The Autobahn-style case table against our HTTP/2 client (an echo handler), the peer
// being a raw node:http2 server that answers the extended CONNECT itself.
// Groups 9, 12, 13: the ends of each subgroup by default, all of it with OMNIWS_SOAK=1.

import { h2ClientDriver } from '../../src/conformance/h2.js';
import { registerSuite } from './suite.js';

registerSuite('h2 client', h2ClientDriver, { role: 'client', subset: 'ends' });
