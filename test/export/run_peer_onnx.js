// run_peer_onnx.js: run an ONNX model that ../shared/peers/tflite2onnx.py
// made from an exported TFLite file, on raw RGB pixel files (the bytes of
// cv_input_pixels), for the TFLite parity test (test/t/014_export_tflite.pl).
//
//   node test/export/run_peer_onnx.js MODEL.onnx ZERO_POINT SCALE PIXELS...
//
// The peer's model takes the real values its TFLite input tensor stands for,
// (pixel - zero_point) * scale, float32 NHWC [1, H, W, 3]; the zero point and
// scale come from the file's own metadata (the test reads them there).
// Prints one JSON line per pixel file: {"file", "probabilities": [...]},
// and for the first three files "ms": the median of 3 more session.run
// calls after the first.
// onnxruntime-node is found through require() or $ORT_NODE_MODULES.
'use strict';
const fs = require('fs');
const TIMED_FILES = 3;
const path = require('path');

function loadOrt() {
  try { return require('onnxruntime-node'); } catch (e) { /* fall through */ }
  const dir = process.env.ORT_NODE_MODULES || '/tmp/ort/node_modules';
  return require(path.join(dir, 'onnxruntime-node'));
}

async function main() {
  const [model, zpArg, scaleArg, ...files] = process.argv.slice(2);
  if (!model || files.length === 0) {
    console.error('usage: node run_peer_onnx.js MODEL.onnx ZERO_POINT SCALE PIXELS...');
    process.exit(2);
  }
  const zp = Number(zpArg), scale = Number(scaleArg);
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(model,
    {intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential'});
  const inputName = session.inputNames[0], outputName = session.outputNames[0];
  let timed = 0;
  for (const file of files) {
    const px = fs.readFileSync(file);
    const side = Math.round(Math.sqrt(px.length / 3));
    if (side * side * 3 !== px.length) throw new Error(`${file}: not a square RGB image`);
    const values = new Float32Array(px.length);
    for (let i = 0; i < px.length; i++) values[i] = (px[i] - zp) * scale;
    const feeds = {[inputName]: new ort.Tensor('float32', values, [1, side, side, 3])};
    let out = await session.run(feeds);
    const report = {file, probabilities: Array.from(out[outputName].data)};
    if (timed++ < TIMED_FILES) {
      const times = [];
      for (let r = 0; r < 3; r++) {
        const t = process.hrtime.bigint();
        out = await session.run(feeds);
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      times.sort((a, b) => a - b);
      report.ms = times[1];
    }
    console.log(JSON.stringify(report));
  }
}

main().catch(e => { console.error(e.stack || String(e)); process.exit(1); });
