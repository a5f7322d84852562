// The Autobahn-style case table against our HTTP/3 client, the peer being a raw HTTP/3
// endpoint on our QUIC layer that carries the WebSocket bytes in DATA frames.
// Groups 9, 12, 13: the ends of each subgroup by default, all of it with OMNIWS_SOAK=1.

import { h3ClientDriver } from '../../src/conformance/h3.js';
import { registerSuite } from './suite.js';

registerSuite('h3 client', h3ClientDriver, { role: 'client', subset: 'ends' });
