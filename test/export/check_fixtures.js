// check_fixtures.js: run the operator fixtures that test/unit/test_export_ops
// writes (PGVISION_EXPORT_FIXTURES) in onnxruntime and compare each output
// with the floats pgvision's own executor computed for the same pixels.
//
//   node test/export/check_fixtures.js DIR
//
// onnxruntime-node is found through require() or $ORT_NODE_MODULES.  Prints
// one line per case and a closing "N passed, N failed".
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  try { return require('onnxruntime-node'); } catch (e) { /* fall through */ }
  const dir = process.env.ORT_NODE_MODULES || '/tmp/ort/node_modules';
  return require(path.join(dir, 'onnxruntime-node'));
}

// Relative to the value's size, floored at 1: activations here reach ~10.
// The int8 engine's operator cases (int8_*) must match exactly: the same
// integers, dequantized by the same float multiplication.  Whole models
// (model_*, test_export_onnx) add the float head's rounding.
const TOLERANCE = 1e-4;
const tolerance = name => name.startsWith('int8_') ? 0 : TOLERANCE;

async function main() {
  const ort = loadOrt();
  const dir = process.argv[2];
  let passed = 0, failed = 0;
  const cases = fs.readdirSync(dir).filter(f => f.endsWith('.onnx')).sort();
  for (const file of cases) {
    const name = file.slice(0, -5);
    try {
      const session = await ort.InferenceSession.create(path.join(dir, file),
        {intraOpNumThreads: 1, interOpNumThreads: 1});
      const px = fs.readFileSync(path.join(dir, name + '.pixels'));
      const raw = fs.readFileSync(path.join(dir, name + '.expected'));
      const expected = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
      const meta = await inputShape(session, px.length);
      const input = new ort.Tensor('float32', Float32Array.from(px), meta);
      // an operator case names its output "output"; a whole model its first
      const results = await session.run({pixels: input});
      const out = (results.output || results[session.outputNames[0]]).data;
      let worst = 0;
      if (out.length !== expected.length) throw new Error(`${out.length} outputs, expected ${expected.length}`);
      for (let i = 0; i < out.length; i++) {
        const d = Math.abs(out[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
        if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
      }
      const ok = worst <= tolerance(name);
      console.log(`${ok ? 'ok  ' : 'FAIL'} export fixture ${name}: ${out.length} values, largest relative difference ${worst.toExponential(2)}`);
      ok ? passed++ : failed++;
    } catch (e) {
      console.log(`FAIL export fixture ${name}: ${e.message}`);
      failed++;
    }
  }
  if (cases.length === 0) { console.log('FAIL no fixtures in ' + dir); failed++; }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

// The input's [1, H, W, 3] from the model's own declaration.
async function inputShape(session, n) {
  const md = session.inputMetadata;
  if (md && md[0] && md[0].shape) return md[0].shape;
  throw new Error(`cannot read the input shape (${n} pixels)`);
}

main();
