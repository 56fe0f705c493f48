// bench_export_ort.js: onnxruntime's time per image on a pgvision export,
// for tools/bench_export.sh.
//   node tools/bench_export_ort.js MODEL.onnx WIDTH HEIGHT RAW.rgb... [--repeat K]
// One thread (intra and inter op 1, sequential), graph optimizations on, as
// a user would run it.  Each image is run K times after one warm-up run;
// prints the median and the minimum of session.run in ms over all runs
// (the pixels are already the network's input: no decoding is timed).
'use strict';
const fs = require('fs');
const path = require('path');
const dir = process.env.PGVISION_NODE_MODULES || '/tmp/pgvision-npm/node_modules';
let ort;
try { ort = require('onnxruntime-node'); } catch (e) { ort = require(path.join(dir, 'onnxruntime-node')); }

(async () => {
  const args = process.argv.slice(2);
  let repeat = 5;
  const k = args.indexOf('--repeat');
  if (k >= 0) { repeat = parseInt(args[k + 1], 10); args.splice(k, 2); }
  const [model, w, h, ...files] = args;
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all'});
  const times = [];
  for (const f of files) {
    const px = Float32Array.from(fs.readFileSync(f));
    const input = new ort.Tensor('float32', px, [1, +h, +w, 3]);
    await session.run({pixels: input});
    for (let r = 0; r < repeat; r++) {
      const t0 = process.hrtime.bigint();
      await session.run({pixels: input});
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  times.sort((a, b) => a - b);
  console.log(`onnxruntime ${times.length} runs median ${times[times.length >> 1].toFixed(2)} ms min ${times[0].toFixed(2)} ms`);
})().catch(e => { console.error(e.message); process.exit(1); });
