// bench_int8_ort.js: onnxruntime beside the int8 engine, for tools/bench_int8.sh.
//   node tools/bench_int8_ort.js FLOAT.onnx QDQ.onnx DIR ZERO_POINT SCALE [--repeat K]
// DIR holds what bench_int8 wrote: N.ppm (the resized pixels) and
// N.ours.f32 (our float scores, then our int8 scores).  Runs onnxruntime's
// float model and its integer (QDQ, fused into its integer kernels) model
// of the same network on the same pixels, one thread, and prints for both
// runtimes the float-to-integer gap over the photos: top-1 agreement, how
// many photos have every score within 0.03, and the median, 90th
// percentile and largest of the largest score difference per photo.  Also
// the median time of session.run of both models on the first photo.
'use strict';
const fs = require('fs');
const path = require('path');
const dir = process.env.PGVISION_NODE_MODULES || '/tmp/pgvision-npm/node_modules';
let ort;
try { ort = require('onnxruntime-node'); } catch (e) { ort = require(path.join(dir, 'onnxruntime-node')); }

function readPpm(file) {
  const b = fs.readFileSync(file);
  let off = 0, nl = 0;
  while (nl < 3) { if (b[off] === 10) nl++; off++; }
  const head = b.subarray(0, off).toString().split(/\s+/);
  return {w: +head[1], h: +head[2], px: b.subarray(off)};
}

function argmax(a) { let k = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i; return k; }
function gap(a, b) { let d = 0; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i])); return d; }
function summary(name, gaps, same) {
  const g = gaps.slice().sort((x, y) => x - y);
  const within = g.filter(x => x <= 0.03).length;
  console.log(`${name}: top-1 equal on ${same} of ${g.length}, every score within 0.03 on ${within}, ` +
              `largest difference per photo: median ${g[g.length >> 1].toFixed(4)}, ` +
              `90th percentile ${g[Math.floor(0.9 * (g.length - 1))].toFixed(4)}, max ${g[g.length - 1].toFixed(4)}`);
}

(async () => {
  const args = process.argv.slice(2);
  let repeat = 50;
  const k = args.indexOf('--repeat');
  if (k >= 0) { repeat = parseInt(args[k + 1], 10); args.splice(k, 2); }
  const [floatModel, qdqModel, d, zp, scale] = args;
  const opt = {intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
               graphOptimizationLevel: 'all'};
  const sessions = [await ort.InferenceSession.create(floatModel, opt),
                    await ort.InferenceSession.create(qdqModel, opt)];
  const n = fs.readdirSync(d).filter(f => /^\d+\.ppm$/.test(f)).length;
  const ours = [], peer = [];
  let oursSame = 0, peerSame = 0;
  for (let i = 0; i < n; i++) {
    const {w, h, px} = readPpm(`${d}/${i}.ppm`);
    const x = new Float32Array(w * h * 3);
    for (let j = 0; j < x.length; j++) x[j] = (px[j] - +zp) * +scale;
    const input = new ort.Tensor('float32', x, [1, h, w, 3]);
    const out = [];
    for (const s of sessions) {
      const r = await s.run({[s.inputNames[0]]: input});
      out.push(r[s.outputNames[0]].data);
    }
    const o = new Float32Array(fs.readFileSync(`${d}/${i}.ours.f32`).buffer.slice(0));
    const m = o.length / 2, of = o.subarray(0, m), oq = o.subarray(m);
    ours.push(gap(of, oq)); oursSame += argmax(of) === argmax(oq);
    peer.push(gap(out[0], out[1])); peerSame += argmax(out[0]) === argmax(out[1]);
    if (i === 0) {
      for (const [name, s] of [['float', sessions[0]], ['integer (QDQ)', sessions[1]]]) {
        const t = [];
        for (let r = 0; r < repeat; r++) {
          const t0 = process.hrtime.bigint();
          await s.run({[s.inputNames[0]]: input});
          t.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        t.sort((a, b) => a - b);
        console.log(`onnxruntime ${name}: median ${t[t.length >> 1].toFixed(2)} ms, min ${t[0].toFixed(2)} ms`);
      }
    }
  }
  summary('pgvision float vs int8 engine', ours, oursSame);
  summary('onnxruntime float vs integer  ', peer, peerSame);
})().catch(e => { console.error(e.message); process.exit(1); });
