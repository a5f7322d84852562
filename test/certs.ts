// Test certificates: a CA and a localhost certificate (src/dev/certs.ts) in a fresh
// directory under os.tmpdir(), read into memory; remove the directory with removeCerts.

export {
  removeTempCerts as removeCerts,
  type TempCerts as TestCerts,
  tempCerts as makeCerts,
} from '../src/dev/certs.js';
