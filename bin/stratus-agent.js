#!/usr/bin/env node
require('../dist/agents/main.js').main(process.argv).then((code) => process.exit(code), (err) => { process.stderr.write(`stratus-agent: ${err && err.message ? err.message : err}\n`); process.exit(1); });
