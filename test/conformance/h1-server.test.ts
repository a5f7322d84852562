// The Autobahn-style case table against our HTTP/1.1 server (an echo route), the peer
// being a raw TCP client that masks its frames.

import { h1ServerDriver } from '../../src/conformance/h1.js';
import { registerSuite } from './suite.js';

registerSuite('h1 server', h1ServerDriver, { role: 'server' });
