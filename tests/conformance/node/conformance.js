#!/usr/bin/env node
// A second implementation of tasker's persistent protocol (docs/handlers.md,
// "Persistent handler processes"), in plain Node.js with no package: enough to
// show the contract is complete. It serves the conformance callables and is run
// by the conformance suite (tests/conformance) like the Python package.
'use strict';
const fs = require('fs');
const readline = require('readline');

const out = (message) => fs.writeSync(1, JSON.stringify(message) + '\n');
const sleepForever = () => setInterval(() => {}, 1 << 30);

let attempt = null;  // {id, input, nextRequest, waiting: Map(request_id -> resolve)}

function ask(request) {
  const requestId = ++attempt.nextRequest;
  out({type: 'request', id: attempt.id, request_id: requestId, request});
  return new Promise((resolve) => attempt.waiting.set(requestId, resolve));
}

const handlers = {
  'conformance.echo': async (a, callable) => ({input: a.input, callable, pid: process.pid}),
  'conformance.permanent': async (a) => ({fail: {retryable: false, message: 'permanent failure', context: {n: a.input.context.n}}}),
  'conformance.retryable': async () => ({fail: {retryable: true, message: 'try later', retry_after_ms: 1500}}),
  'conformance.checkpoint': async () => {
    const reply = await ask({save_checkpoint: {cursor: 10, items_processed: 10, accumulated_results: {sum: 55}}});
    return {saved: reply.saved};
  },
  'conformance.ancestor': async () => (await ask({step_result: 'root'})).result,
  'conformance.heartbeat': async () => {
    await ask({heartbeat: true});
    await ask({heartbeat: true});
    return {ok: true};
  },
  'conformance.stderr': async (a) => {
    fs.writeSync(2, `conformance stderr ${a.input.attempt}\n`);
    return {fail: {retryable: true, message: 'see stderr'}};
  },
  'conformance.garbage': async () => { fs.writeSync(1, 'this is not JSON\n'); return new Promise(sleepForever); },
  'conformance.silent': async (a) => {
    const file = a.input.context.pid_file;
    if (file) { fs.writeFileSync(file + '.tmp', String(process.pid)); fs.renameSync(file + '.tmp', file); }
    return new Promise(sleepForever);
  },
  'conformance.twice': async (a) => {
    const one = JSON.stringify({type: 'result', id: a.id, result: {answer: 1}});
    const two = JSON.stringify({type: 'result', id: a.id, result: {answer: 2}});
    fs.writeSync(1, one + '\n' + two + '\n');
    return new Promise(sleepForever);
  },
  'conformance.crash': async () => { process.kill(process.pid, 'SIGKILL'); return new Promise(sleepForever); },
  'conformance.big': async (a) => 'x'.repeat(a.input.context.bytes),
};

async function run(message) {
  attempt = {id: message.id, input: message.input, nextRequest: 0, waiting: new Map()};
  const handler = handlers[message.callable];
  let answer;
  try {
    answer = handler ? await handler(attempt, message.callable)
                     : {fail: {retryable: false, message: `no handler for ${message.callable}`}};
  } catch (e) {
    answer = {fail: {retryable: true, message: String(e), error_type: 'Error'}};
  }
  if (answer && answer.fail) out({type: 'failure', id: message.id, ...answer.fail});
  else out({type: 'result', id: message.id, result: answer === undefined ? null : answer});
}

if (process.env.TASKER_PERSISTENT_PROTOCOL !== '1') {
  process.stderr.write('conformance.js speaks persistent protocol 1 only\n');
  process.exit(2);
}
out({type: 'ready', protocol: 1});
const lines = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
lines.on('line', (line) => {
  const message = JSON.parse(line);
  if (message.type === 'attempt') run(message);
  else if (message.type === 'reply' && attempt && attempt.waiting.has(message.request_id)) {
    const resolve = attempt.waiting.get(message.request_id);
    attempt.waiting.delete(message.request_id);
    resolve(message.reply);
  } else {
    process.stderr.write(`unexpected line: ${line.slice(0, 200)}\n`);
    process.exit(3);
  }
});
lines.on('close', () => process.exit(0));
