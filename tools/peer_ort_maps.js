#!/usr/bin/env node
// Time a tools/peer_cut_onnx.py model (a backbone cut at a detector's two feature maps) in
// onnxruntime-node, and compare its maps with ours.  A benchmark helper for
// tools/bench_detect.sh, not product code.
//
// usage: node tools/peer_ort_maps.js CUT.onnx VIEW.ppm [--ref MAPS.f32] [--repeat K] [--threads N]
//
// VIEW.ppm: the pixels the backbone reads, at the model's input size (bench_detect --dump-maps
// writes them beside its maps); fed as (pixel - zero_point) * scale with the TFLite input
// quantization stored in the model's metadata_props, NHWC, as ../shared/peers/run_ort.js does.
// Session as run_ort.js's: intraOpNumThreads N (default 1), interOpNumThreads 1, sequential,
// graph optimizations all.  Only session.run is timed: 2 warm-up runs, then the median and
// minimum of K (default 50), and the median CPU time of the process per run (process.cpuUsage).
// --ref MAPS.f32: our maps of the same pixels (map 0 then map 1, NHWC float32); per map it
// prints max |diff|, max |ours|, their ratio, and the mean |diff| over the mean |ours|.
'use strict';
const fs = require('fs');
const path = require('path');

let ort;
try { ort = require('onnxruntime-node'); } catch (e) {
  ort = require(path.join(process.env.ORT_NODE_MODULES || '/tmp/ort/node_modules', 'onnxruntime-node'));
}

// ONNX metadata_props (ModelProto field 14: {key=1, value=2}), as run_ort.js reads them.
function readMeta(file) {
  const b = fs.readFileSync(file);
  let p = 0;
  const varint = () => { let v = 0, m = 1, c; do { c = b[p++]; v += (c & 127) * m; m *= 128; } while (c & 128); return v; };
  const meta = {};
  while (p < b.length) {
    const tag = varint(), field = Math.floor(tag / 8), wt = tag & 7;
    if (wt === 0) { varint(); continue; }
    if (wt === 1) { p += 8; continue; }
    if (wt === 5) { p += 4; continue; }
    if (wt !== 2) throw new Error('unexpected protobuf wire type ' + wt);
    const len = varint(), end = p + len;
    if (field === 14) {
      const kv = {};
      while (p < end) { const t = varint() >> 3, l = varint(); kv[t] = b.toString('utf8', p, p + l); p += l; }
      meta[kv[1]] = kv[2];
    }
    p = end;
  }
  return meta;
}

function readPPM(file) {
  const b = fs.readFileSync(file);
  const m = b.toString('latin1', 0, 64).match(/^P6\s+(\d+)\s+(\d+)\s+255\s/);
  if (!m) throw new Error(file + ': not a binary 8-bit PPM');
  const off = m[0].length, w = +m[1], h = +m[2];
  return { w, h, rgb: new Uint8Array(b.subarray(off, off + w * h * 3)) };
}

async function main() {
  const argv = process.argv.slice(2), opt = { repeat: 50, threads: 1, ref: null }, files = [];
  for (let i = 0; i < argv.length; i++) {
    const m = argv[i].match(/^--(repeat|threads|ref)$/);
    if (m) opt[m[1]] = argv[++i]; else files.push(argv[i]);
  }
  if (files.length !== 2) {
    console.error('usage: node peer_ort_maps.js CUT.onnx VIEW.ppm [--ref MAPS.f32] [--repeat K] [--threads N]');
    process.exit(2);
  }
  const [modelFile, ppm] = files, meta = readMeta(modelFile);
  const scale = Number(meta.input_scale), zp = Number(meta.input_zero_point);
  const [, H, W] = meta.input_shape.split(',').map(Number);
  const img = readPPM(ppm);
  if (img.w !== W || img.h !== H) throw new Error(`${ppm} is ${img.w}x${img.h}, the model takes ${W}x${H}`);
  const x = new Float32Array(img.rgb.length);
  for (let i = 0; i < x.length; i++) x[i] = (img.rgb[i] - zp) * scale;
  const sess = await ort.InferenceSession.create(modelFile, {
    intraOpNumThreads: +opt.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const feeds = { input: new ort.Tensor('float32', x, [1, H, W, 3]) };
  let out;
  for (let i = 0; i < 2; i++) out = await sess.run(feeds);
  const ms = [], cpu = [];
  for (let i = 0; i < +opt.repeat; i++) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    await sess.run(feeds);
    const c = process.cpuUsage(c0);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpu.push((c.user + c.system) / 1e3);  // the whole process's CPU time, ms
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const n = ms.length, mid = (v) => (n % 2 ? v[n >> 1] : (v[n / 2 - 1] + v[n / 2]) / 2), med = mid(ms);
  console.log(`onnxruntime ${(ort.env.versions && ort.env.versions.common) || '?'} at ${W}: median ${med.toFixed(3)} ms, ` +
              `min ${ms[0].toFixed(3)} ms over ${n} runs, ${opt.threads} thread(s) (${path.basename(modelFile)}, clamp ${meta.clamp}); ` +
              `CPU median ${mid(cpu).toFixed(3)} ms`);
  if (opt.ref) {
    const rb = fs.readFileSync(opt.ref), ref = new Float32Array(rb.buffer, rb.byteOffset, rb.length / 4);
    let off = 0;
    sess.outputNames.forEach((name, k) => {
      const t = out[name], [, C, h, w] = t.dims, d = t.data;  // NCHW
      let maxDiff = 0, maxRef = 0, sumDiff = 0, sumRef = 0;
      for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let c = 0; c < C; c++) {
        const r = ref[off + (y * w + xx) * C + c], v = d[(c * h + y) * w + xx], e = Math.abs(v - r);
        maxDiff = Math.max(maxDiff, e); maxRef = Math.max(maxRef, Math.abs(r)); sumDiff += e; sumRef += Math.abs(r);
      }
      off += C * h * w;
      console.log(`  map ${k} ${h}x${w}x${C}: max |diff| ${maxDiff.toExponential(2)}, max |ours| ${maxRef.toFixed(3)}, ` +
                  `relative ${(maxDiff / maxRef).toExponential(2)} (mean |diff| / mean |ours| ${(sumDiff / sumRef).toExponential(2)})`);
    });
    if (off * 4 !== rb.length) console.log(`  warning: ${opt.ref} holds ${rb.length / 4} floats, the maps ${off}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
