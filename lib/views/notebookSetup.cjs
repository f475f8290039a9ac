// The set-up every notebook runs first, in one place. tslab compiles cells to CommonJS, and the suite's library is
// ESM TypeScript (relative imports end in .ts): register tsx's hooks (ESM import and CommonJS require), then load the
// library and danfojs. Usage in a notebook's first code cell:
//   const { suite, dfd } = require('../lib/views/notebookSetup.cjs');
const { register } = require('node:module');
const { pathToFileURL } = require('node:url');

register('tsx/esm', pathToFileURL(`${__dirname}/`), { data: { active: true } });
require('tsx/cjs/api').register();

module.exports = {
  suite: require('../index.ts'),
  dfd: require('danfojs-node'),
};
