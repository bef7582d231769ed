#!/usr/bin/env node
require('../dist/api/main.js').main();
