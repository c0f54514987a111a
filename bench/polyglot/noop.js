#!/usr/bin/env node
// bench_polyglot's trivial handler as a minimal persistent-protocol server in Node.js.
'use strict';
const fs = require('fs');
const readline = require('readline');
fs.writeSync(1, JSON.stringify({type: 'ready', protocol: 1}) + '\n');
readline.createInterface({input: process.stdin}).on('line', (line) => {
  const m = JSON.parse(line);
  fs.writeSync(1, JSON.stringify({type: 'result', id: m.id, result: {}}) + '\n');
});
