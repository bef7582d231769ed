#!/usr/bin/env node
require('../dist/controllers/main.js').main();
