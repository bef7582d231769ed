#!/usr/bin/env node
require('../dist/api/migrate-main.js').main();
