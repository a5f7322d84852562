// The Autobahn-style case table against our HTTP/1.1 client (an echo handler), the peer
// being a raw TCP server that does the handshake by hand and checks that our frames are
// masked.

import { h1ClientDriver } from '../../src/conformance/h1.js';
import { registerSuite } from './suite.js';

registerSuite('h1 client', h1ClientDriver, { role: 'client' });
