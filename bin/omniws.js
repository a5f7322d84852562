#!/usr/bin/env node
import('../dist/src/cli.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code;
    },
    (err) => {
      if (err?.code === 'ERR_MODULE_NOT_FOUND') {
        console.error('omniws: not built yet; run `npm run build` (or `npm start`)');
      } else {
        console.error(`omniws: ${err?.message ?? err}`);
      }
      process.exitCode = 1;
    },
  );
