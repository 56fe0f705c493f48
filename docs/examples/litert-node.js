// litert-node.js: run a TFLite file in LiteRT.js (npm @litertjs/core: Google's LiteRT, the
// TFLite runtime, compiled to WebAssembly, CPU kernels from XNNPACK) under Node, for
// run-onnx.js --litert.
//
// @litertjs/core is written for browsers and workers: its loader brings in the runtime's
// Emscripten glue (wasm/litert_wasm_*internal.js) with importScripts() or a <script> tag and
// reads the factory it defines from `self`.  The glue itself runs under Node (it reads the
// .wasm file with fs when it sees process.versions.node), so what this file supplies is that
// loader's environment: `self` as the global object, an importScripts() that runs the glue in
// the global scope with require, __filename and __dirname (which the glue uses to find its
// .wasm), and nothing for WebGPU (Node has no navigator.gpu: the package warns, and the
// 'wasm' accelerator is what runs).  The runtime's own log lines (INFO: created the XNNPACK
// delegate...) and that warning are kept, and printed only if loading or compiling fails.
//
// Under Node 20 (V8 11.3, no relaxed SIMD) the package picks its "compat" build,
// litert_wasm_compat_internal.wasm: single-threaded, WebAssembly SIMD128.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const { pathToFileURL } = require('url');

// The package's directory: through require() or in $PGVISION_NODE_MODULES, as run-onnx.js
// finds its other packages.
function packageDir() {
  try { return path.dirname(require.resolve('@litertjs/core/package.json')); } catch (e) {
    const dir = process.env.PGVISION_NODE_MODULES || '/tmp/pgvision-npm/node_modules';
    return path.join(dir, '@litertjs', 'core');
  }
}

let loaded = null;
const log = [];

async function loadRuntime() {
  if (loaded) return loaded;
  const dir = packageDir();
  globalThis.self = globalThis;
  globalThis.importScripts = (url) => {
    const file = url.toString();
    globalThis.__filename = file;
    globalThis.__dirname = path.dirname(file);
    globalThis.require = require;
    vm.runInThisContext(fs.readFileSync(file, 'utf8'), { filename: file });
  };
  // the glue takes its print functions from the Module object it is given
  globalThis.Module = { print: (t) => log.push(t), printErr: (t) => log.push(t) };
  const warn = console.warn;
  console.warn = (...a) => log.push(a.map(String).join(' '));
  try {
    const litert = await import(pathToFileURL(path.join(dir, 'dist', 'index.js')).href);
    await litert.loadLiteRt(path.join(dir, 'wasm') + '/');
    loaded = litert;
    return litert;
  } catch (e) {
    throw new Error(`LiteRT.js did not load from ${dir}: ${e && e.message ? e.message : e}\n${log.join('\n')}`);
  } finally {
    console.warn = warn;
  }
}

// open(bytes): the compiled model, with
//   input: {dtype, shape} of its single input
//   run(typedArray): the data of every output, as typed arrays, in the file's output order
async function open(bytes) {
  const litert = await loadRuntime();
  let model;
  try {
    model = await litert.loadAndCompile(new Uint8Array(bytes), { accelerator: 'wasm', cpuOptions: { numThreads: 1 } });
  } catch (e) {
    throw new Error(`LiteRT.js did not compile the model: ${e && e.message ? e.message : e}\n${log.join('\n')}`);
  }
  const inputs = model.getInputDetails();
  if (inputs.length !== 1) throw new Error(`the model has ${inputs.length} inputs, not one`);
  const input = { dtype: inputs[0].dtype, shape: Array.from(inputs[0].shape) };
  return {
    input,
    outputs: model.getOutputDetails().map((d) => ({ name: d.name, dtype: d.dtype, shape: Array.from(d.shape) })),
    async run(data) {
      const tensor = new litert.Tensor(data, input.shape);
      try {
        const results = await model.run([tensor]);
        const out = results.map((r) => r.toTypedArray().slice());
        for (const r of results) r.delete();
        return out;
      } finally {
        tensor.delete();
      }
    },
    log,
  };
}

module.exports = { open };
