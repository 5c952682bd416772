#!/usr/bin/env node
// Submit a Cadenza flow run over the Executor gRPC API, print its state changes and log lines
// as they happen, then print its result.
//
//   node submit.js --address 127.0.0.1:PORT (--deployment NAME | --entrypoint module:function)
//                  [--params '{"x": 1}'] [--token TOKEN] [--tls [--ca FILE]] [--protos DIR]
//
// The last line on stdout is `RESULT <json>` (`RESULT null` when the run has no JSON result).
// Exit status: 0 when the run ends Completed, 1 when it ends in any other state, 2 on a gRPC
// error (printed on stderr as `ERROR <CODE>: <details>`) or bad usage.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const USAGE =
  'usage: node submit.js --address HOST:PORT (--deployment NAME | --entrypoint module:function)\n' +
  "       [--params '{\"x\": 1}'] [--token TOKEN] [--tls [--ca FILE]] [--protos DIR]";
const UNARY_DEADLINE_MS = 30_000;
const LOG_LEVELS = { 10: 'DEBUG', 20: 'INFO', 30: 'WARNING', 40: 'ERROR', 50: 'CRITICAL' };

function parseOptions() {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      deployment: { type: 'string' },
      entrypoint: { type: 'string' },
      params: { type: 'string', default: '{}' },
      token: { type: 'string', default: process.env.CADENZA_API_TOKEN || '' },
      tls: { type: 'boolean', default: false },
      ca: { type: 'string' },
      protos: { type: 'string', default: path.resolve(__dirname, '../../../protos') },
    },
  });
  if (!values.address || Boolean(values.deployment) === Boolean(values.entrypoint)) {
    throw new Error('give --address and exactly one of --deployment or --entrypoint');
  }
  return values;
}

// Load the contract from the .proto files; the proto root is the include directory, so the
// imports between the files (`cadenza/v1/states.proto`, ...) resolve as they do for protoc.
function executorClient(options) {
  const definition = protoLoader.loadSync('cadenza/v1/executor.proto', {
    includeDirs: [options.protos],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const { Executor } = grpc.loadPackageDefinition(definition).cadenza.v1;
  const credentials = options.tls || options.ca
    ? grpc.credentials.createSsl(options.ca ? fs.readFileSync(options.ca) : null)
    : grpc.credentials.createInsecure();
  return new Executor(options.address, credentials);
}

function callMetadata(token) {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function unary(client, method, request, metadata) {
  const deadline = Date.now() + UNARY_DEADLINE_MS;
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

function describe(event) {
  if (event.event === 'state_change') {
    const { run_kind, run_name, run_id, state } = event.state_change;
    const kind = run_kind.replace('RUN_KIND_', '').toLowerCase();
    return `${kind} ${run_name || run_id} -> ${state.name || state.type.replace('STATE_TYPE_', '')}`;
  }
  if (event.event === 'log') {
    const { level, message } = event.log;
    return `log ${LOG_LEVELS[level] || level} ${message}`;
  }
  return null;
}

// Print every event of the run until the server ends the stream (after the final state).
function watch(client, flowRunId, metadata) {
  return new Promise((resolve, reject) => {
    const call = client.WatchFlowRun({ flow_run_id: flowRunId }, metadata);
    call.on('data', (event) => {
      const line = describe(event);
      if (line) console.log(line);
    });
    call.on('error', reject);
    call.on('end', resolve);
  });
}

async function main() {
  let options;
  try {
    options = parseOptions();
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
  const client = executorClient(options);
  const metadata = callMetadata(options.token);
  try {
    const submitted = await unary(client, 'SubmitFlowRun', {
      deployment_name: options.deployment || '',
      entrypoint: options.entrypoint || '',
      parameters_json: options.params,
    }, metadata);
    console.log(`submitted flow run ${submitted.flow_run_id}`);

    await watch(client, submitted.flow_run_id, metadata);

    const details = await unary(client, 'ReadFlowRun', { flow_run_id: submitted.flow_run_id }, metadata);
    const state = details.flow_run.state;
    const completed = state.type === 'STATE_TYPE_COMPLETED';
    if (!completed && state.message) console.error(`${state.name}: ${state.message}`);
    if (!details.has_result && details.result_note) console.error(`no JSON result: ${details.result_note}`);
    console.log(`RESULT ${details.has_result ? details.result_json : 'null'}`);
    return completed ? 0 : 1;
  } catch (err) {
    if (err.code === undefined) throw err;
    console.error(`ERROR ${grpc.status[err.code]}: ${err.details}`);
    return 2;
  } finally {
    client.close();
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err.stack || err); process.exitCode = 2; },
);
