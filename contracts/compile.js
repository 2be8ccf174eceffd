#!/usr/bin/env node
// Compiles Solidity sources with the pinned solc-js through its standard-JSON
// interface (the CLI gives no deployed bytecode) and writes one hardhat-style
// artifact per deployable contract: {contractName, abi, bytecode, deployedBytecode}.
//
// usage: node compile.js --out DIR [--version-file] SOURCE.sol...
//
// Source unit names are taken relative to the repository root, and the settings are
// fixed here, because both end up in the metadata hash inside the bytecode: the same
// compiler and sources must give byte-identical artifacts from any working directory.
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const NODE_MODULES = process.env.GOVNODE_TOOLS_NODE_MODULES || path.join(ROOT, 'tools', 'node_modules');

// Cancun is what mainnet, Sepolia and anvil all accept; newer compilers default to a
// later fork, which would change the bytecode whenever the compiler is bumped.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function usage(msg) {
  process.stderr.write(`compile.js: ${msg}\nusage: node compile.js --out DIR [--version-file] SOURCE.sol...\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let outDir = null;
let versionFile = false;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') outDir = args[++i];
  else if (args[i] === '--version-file') versionFile = true;
  else if (args[i].startsWith('-')) usage(`unknown option ${args[i]}`);
  else files.push(args[i]);
}
if (!outDir) usage('--out is required');
if (files.length === 0) usage('no sources');

let solc;
try {
  solc = require(path.join(NODE_MODULES, 'solc'));
} catch (e) {
  process.stderr.write(`compile.js: cannot load solc-js from ${NODE_MODULES} (run scripts/setup-tools.sh)\n`);
  process.exit(1);
}

const sources = {};
const ownUnits = new Set();
for (const f of files) {
  const abs = path.resolve(f);
  const unit = path.relative(ROOT, abs).split(path.sep).join('/');
  if (unit.startsWith('..')) usage(`${f} is outside the repository`);
  sources[unit] = { content: fs.readFileSync(abs, 'utf8') };
  ownUnits.add(unit);
}

// Imports are looked up in the repository first, then in tools/node_modules, so
// `@openzeppelin/contracts/...` resolves to the pinned package.
function findImports(unit) {
  for (const base of [ROOT, NODE_MODULES]) {
    const p = path.join(base, unit);
    if (fs.existsSync(p)) return { contents: fs.readFileSync(p, 'utf8') };
  }
  return { error: `not found: ${unit}` };
}

const input = { language: 'Solidity', sources, settings: SETTINGS };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

let failed = false;
for (const e of output.errors || []) {
  if (e.severity === 'error') failed = true;
  // Warnings inside the pinned OpenZeppelin sources are not ours to fix.
  const file = e.sourceLocation && e.sourceLocation.file;
  if (e.severity !== 'error' && file && !ownUnits.has(file)) continue;
  process.stderr.write((e.formattedMessage || e.message) + '\n');
}
if (failed) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
const written = [];
for (const unit of [...ownUnits].sort()) {
  const contracts = (output.contracts || {})[unit] || {};
  for (const name of Object.keys(contracts).sort()) {
    const c = contracts[name];
    // Interfaces and abstract contracts have nothing to deploy.
    if (!c.evm.bytecode.object) continue;
    const artifact = {
      contractName: name,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    const file = path.join(outDir, `${name}.json`);
    if (written.includes(file)) {
      process.stderr.write(`compile.js: two contracts named ${name}\n`);
      process.exit(1);
    }
    fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + '\n');
    written.push(file);
  }
}
if (versionFile) fs.writeFileSync(path.join(outDir, 'SOLC_VERSION'), solc.version() + '\n');
for (const f of written) process.stdout.write(f + '\n');
