#!/usr/bin/env node
// Run a pgvision export (cv_export) outside the database with onnxruntime-node, and give
// cv_predict's or cv_detect's answers.
//
// usage: node docs/examples/run-onnx.js MODEL.onnx PHOTO [--pixels RAW.rgb] [--json]
//                                       [--threshold T] [--max-detections N] [--overlap O]
//        node docs/examples/run-onnx.js MODEL.tflite --converted MODEL.onnx PHOTO [...the same]
//        node docs/examples/run-onnx.js MODEL.tflite --litert PHOTO [...the same]
//        (several photos may follow the model, with one --pixels each if any: the model is
//        loaded once; --json then prints one line per photo)
//
// MODEL.onnx  a file from SELECT cv_export(iteration)
// MODEL.tflite  a file from SELECT cv_export(iteration, 'tflite'), with --converted: the same
//             file converted to ONNX (onnxruntime has no TFLite reader), which is what runs; the
//             metadata and, for a detector, the post-processing of its raw outputs (run on the
//             photo and on its mirror, combined, scored, calibrated, decoded, NMS: docs/export.md)
//             are this file's; with --litert the TFLite file itself runs, in LiteRT.js (npm
//             @litertjs/core, TFLite's own runtime in WebAssembly: litert-node.js beside this
//             file), its input tensor fed as the file declares it (uint8: the pixels as they are)
// PHOTO       a JPEG or PNG; decoded, turned upright (EXIF orientation) and resized here
//             exactly as docs/export.md says cv_input_pixels does (JPEG decoding itself is
//             approximated: see "Decoding" there)
// --pixels    take the network's input as it is from RAW.rgb instead (SELECT
//             cv_input_pixels(iteration, photo): input_height x input_width x 3 bytes, RGB,
//             rows top to bottom); PHOTO is then only named in the output
// --save-pixels RAW.rgb  write the pixels decoded here (to compare with cv_input_pixels)
// --json      print one JSON object instead of a table
// detection only: --threshold T (default 0.1, cv_detect's), --max-detections N (default: the
//             file's pgvision.max_detections, cv_detect's 100), --overlap O (default: the
//             pgvision.nms_overlap the file was exported with)
//
// Classification prints every tag with its probability, most probable first (ties in tag
// order), as cv_predict does.  Detection prints tag, probability, left, top, width, height
// after the post-processing cv_detect applies to the model's raw boxes and scores
// (src/core/detect/detector.c, box.c): candidates with probability >= threshold, per-tag
// non-maximum suppression over the unclipped boxes in descending probability, at most
// max_detections kept, then boxes clipped to the image and those clipped to nothing dropped.
//
// Needs the npm packages onnxruntime-node, jpeg-js and pngjs, found through require() or in
// $PGVISION_NODE_MODULES (default /tmp/pgvision-npm/node_modules):
//   mkdir -p /tmp/pgvision-npm && cd /tmp/pgvision-npm && npm init -y &&
//   npm install --ignore-scripts onnxruntime-node jpeg-js pngjs
// and, for --litert, @litertjs/core (tools/lib/common.sh installs all four).
'use strict';
const fs = require('fs');
const path = require('path');

function need(name) {
  try { return require(name); } catch (e) {
    const dir = process.env.PGVISION_NODE_MODULES || '/tmp/pgvision-npm/node_modules';
    return require(path.join(dir, name));
  }
}

function fail(msg) {
  process.stderr.write('run-onnx: ' + msg + '\n');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// The model's metadata: ONNX ModelProto.metadata_props (field 14, entries {key 1, value 2}),
// read from the protobuf directly (onnxruntime-node does not expose it).
// ---------------------------------------------------------------------------------------
function readMetadata(bytes) {
  let p = 0;
  const varint = () => {
    let v = 0, m = 1, c;
    do {
      if (p >= bytes.length) throw new Error('truncated ONNX file');
      c = bytes[p++]; v += (c & 127) * m; m *= 128;
    } while (c & 128);
    return v;
  };
  const meta = {};
  while (p < bytes.length) {
    const tag = varint(), field = Math.floor(tag / 8), wt = tag & 7;
    if (wt === 0) { varint(); continue; }
    if (wt === 1) { p += 8; continue; }
    if (wt === 5) { p += 4; continue; }
    if (wt !== 2) throw new Error('not an ONNX file (protobuf wire type ' + wt + ')');
    const len = varint(), end = p + len;
    if (end > bytes.length) throw new Error('truncated ONNX file');
    if (field === 14) {
      const kv = {};
      while (p < end) {
        const t = varint() >> 3, l = varint();
        kv[t] = bytes.toString('utf8', p, p + l); p += l;
      }
      meta[kv[1]] = kv[2];
    }
    p = end;
  }
  return meta;
}

// The keys docs/export.md lists.
function modelSettings(meta) {
  const get = (k) => {
    if (!(k in meta)) fail(`the model has no metadata key "${k}": not a pgvision export?`);
    return meta[k];
  };
  const s = {
    task: get('pgvision.task'),
    tags: JSON.parse(get('pgvision.tags')),
    width: parseInt(get('pgvision.input_width'), 10),
    height: parseInt(get('pgvision.input_height'), 10),
    threshold: parseFloat(get('pgvision.threshold')),
    resize: get('pgvision.resize'),
    normalisation: meta['pgvision.normalisation'] || '',
    nmsOverlap: meta['pgvision.nms_overlap'] !== undefined ? parseFloat(meta['pgvision.nms_overlap']) : 0.45,
    maxDetections: meta['pgvision.max_detections'] !== undefined ? parseInt(meta['pgvision.max_detections'], 10) : 100,
    version: meta['pgvision.version'],
    iteration: meta['pgvision.iteration'],
    // a TFLite file's: the input's type and, for a detector, what its raw outputs need
    inputType: meta['pgvision.input_type'] || 'float32',
    zeroPoint: parseFloat(meta['pgvision.input_zero_point'] || '0'),
    inputScale: parseFloat(meta['pgvision.input_scale'] || '1'),
    gridWidth: parseInt(meta['pgvision.grid_width'] || '0', 10),
    gridHeight: parseInt(meta['pgvision.grid_height'] || '0', 10),
    calibA: parseFloat(meta['pgvision.calibration_a'] || '1'),
    calibB: parseFloat(meta['pgvision.calibration_b'] || '0'),
    codeLimit: parseFloat(meta['pgvision.box_code_limit'] || '10'),
  };
  if (!['multiclass', 'multilabel', 'detection'].includes(s.task)) fail('unknown task ' + s.task);
  if (!(s.width > 0 && s.height > 0)) fail('bad input size in the metadata');
  if (!['centre_square', 'stretch'].includes(s.resize)) fail('unknown resize ' + s.resize);
  return s;
}

// ---------------------------------------------------------------------------------------
// EXIF orientation: IFD0's tag 0x0112 in a TIFF block, every offset checked; anything
// inconsistent means 1 (upright), as src/core/image/exif.c.
// ---------------------------------------------------------------------------------------
function exifOrientation(b) {
  if (b.length >= 6 && b.toString('latin1', 0, 6) === 'Exif\0\0') b = b.subarray(6);
  if (b.length < 8) return 1;
  let be;
  if (b[0] === 0x49 && b[1] === 0x49) be = false;
  else if (b[0] === 0x4d && b[1] === 0x4d) be = true;
  else return 1;
  const u16 = (o) => be ? b.readUInt16BE(o) : b.readUInt16LE(o);
  const u32 = (o) => be ? b.readUInt32BE(o) : b.readUInt32LE(o);
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > b.length) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > b.length) return 1;
    if (u16(e) !== 0x0112) continue;
    const type = u16(e + 2);
    if (u32(e + 4) < 1) return 1;
    let v;
    if (type === 3) v = u16(e + 8);
    else if (type === 4) v = u32(e + 8);
    else return 1;
    return v >= 1 && v <= 8 ? v : 1;
  }
  return 1;
}

function orientDims(o, w, h) { return o >= 5 && o <= 8 ? [h, w] : [w, h]; }

// The upright raster of one stored under orientation o (src/core/image/orient.c's table).
function orient(img, o) {
  if (o < 2 || o > 8) return img;
  const sw = img.width, sh = img.height;
  const [ow, oh] = orientDims(o, sw, sh);
  const out = new Uint8Array(ow * oh * 3);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let sx, sy;
      switch (o) {
        case 2: sx = sw - 1 - ox; sy = oy; break;
        case 3: sx = sw - 1 - ox; sy = sh - 1 - oy; break;
        case 4: sx = ox; sy = sh - 1 - oy; break;
        case 5: sx = oy; sy = ox; break;
        case 6: sx = oy; sy = sh - 1 - ox; break;
        case 7: sx = sw - 1 - oy; sy = sh - 1 - ox; break;
        default: sx = sw - 1 - oy; sy = ox; break;
      }
      const s = (sy * sw + sx) * 3, d = (oy * ow + ox) * 3;
      out[d] = img.pixels[s]; out[d + 1] = img.pixels[s + 1]; out[d + 2] = img.pixels[s + 2];
    }
  }
  return { width: ow, height: oh, pixels: out };
}

// ---------------------------------------------------------------------------------------
// The renderer of src/core/learn/augment.c (cv_augment_render), to the bit: weights made in
// double and stored as float32, both passes accumulated in float32 (Math.fround after every
// operation, as C evaluates float expressions on x86-64 and arm64 without contraction),
// + 0.5 then truncation to a byte.
// ---------------------------------------------------------------------------------------
const f32 = Math.fround;

function makeTaps(srcLen, start, extent, outLen) {
  const step = extent / outLen;
  const half = (step > 1.0 ? step : 1.0) / 2.0;
  const taps = [];
  for (let j = 0; j < outLen; j++) {
    const centre = start + (j + 0.5) * step;
    let a = centre - half, b = centre + half;
    if (a < 0.0) { b -= a; a = 0.0; }
    if (b > srcLen) { a -= b - srcLen; b = srcLen; if (a < 0.0) a = 0.0; }
    const first = Math.floor(a);
    let last = Math.ceil(b) - 1;
    if (last >= srcLen) last = srcLen - 1;
    if (last < first) last = first;
    const count = last - first + 1;
    const w = new Float32Array(count);
    let total = 0.0;
    for (let p = first; p <= last; p++) {
      const o = Math.min(p + 1.0, b) - Math.max(p, a);
      w[p - first] = o > 0.0 ? o : 0.0;
      total += o > 0.0 ? o : 0.0;
    }
    for (let p = 0; p < count; p++) w[p] = total > 0.0 ? w[p] / total : 1.0 / count;
    taps.push({ first, count, w });
  }
  return taps;
}

// view: {left, top, width, height} fractions (float32 values) of src; no mirror (view 0).
function render(src, view, width, height) {
  const xt = makeTaps(src.width, view.left * src.width, view.width * src.width, width);
  const yt = makeTaps(src.height, view.top * src.height, view.height * src.height, height);
  let rowLo = yt[0].first, rowHi = yt[height - 1].first + yt[height - 1].count - 1;
  for (const t of yt) {
    if (t.first < rowLo) rowLo = t.first;
    if (t.first + t.count - 1 > rowHi) rowHi = t.first + t.count - 1;
  }
  const tmp = new Float32Array(src.height * width * 3);
  for (let y = rowLo; y <= rowHi; y++) {
    const srow = y * src.width * 3, trow = y * width * 3;
    for (let j = 0; j < width; j++) {
      const { first, count, w } = xt[j];
      let r = 0, g = 0, b = 0;
      for (let p = 0; p < count; p++) {
        const s = srow + (first + p) * 3;
        r = f32(r + f32(w[p] * src.pixels[s]));
        g = f32(g + f32(w[p] * src.pixels[s + 1]));
        b = f32(b + f32(w[p] * src.pixels[s + 2]));
      }
      tmp[trow + 3 * j] = r; tmp[trow + 3 * j + 1] = g; tmp[trow + 3 * j + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < height; i++) {
    const { first, count, w } = yt[i];
    for (let j = 0; j < width; j++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let p = 0; p < count; p++) v = f32(v + f32(w[p] * tmp[((first + p) * width + j) * 3 + c]));
        v = f32(v + 0.5);
        out[(i * width + j) * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
      }
    }
  }
  return { width, height, pixels: out };
}

// The rectangle a classification model sees: the centred square (cv_augment_view_for with
// square_views, in float32 as there); detection sees the whole photo, stretched.
function viewFor(resize, img) {
  if (resize === 'stretch') return { left: 0, top: 0, width: 1, height: 1 };
  const side = Math.min(img.width, img.height);
  let w = f32(side / img.width), h = f32(side / img.height);
  if (w > 1) w = 1;
  if (h > 1) h = 1;
  return { left: f32(f32(1 - w) / 2), top: f32(f32(1 - h) / 2), width: w, height: h };
}

// ---------------------------------------------------------------------------------------
// JPEG: jpeg-js for the entropy decoding and the inverse DCT (its raw Y, Cb, Cr planes),
// then what libjpeg-turbo does after its IDCT with pgvision's settings: "fancy" (triangle)
// chroma upsampling and its integer YCbCr -> RGB.  pgvision decodes at the smallest DCT scale
// M/8 that covers 5/4 of the input (+1); that scaled IDCT is approximated here by area
// averaging the full decode to the same size (docs/export.md, "Decoding").
// ---------------------------------------------------------------------------------------
// zigzag position -> natural (row-major) index of the 8x8 block
const ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
  20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45,
  38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63];

function jpegHeader(buf) {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) throw new Error('not a JPEG');
  let p = 2, orientation = 1, frame = null, adobe = null, sawExif = false;
  const tables = [];		// quantization tables, natural order
  const keep = [buf.subarray(0, 2)];
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) throw new Error('corrupt JPEG marker at ' + p);
    const marker = buf[p + 1];
    if (marker === 0xff) { p++; continue; }
    if (marker === 0xda || marker === 0xd9) break;	// start of scan: headers done
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { p += 2; continue; }
    const len = buf.readUInt16BE(p + 2);
    const seg = buf.subarray(p + 4, p + 2 + len);
    if (marker === 0xe1 && !sawExif && seg.length >= 6 && seg.toString('latin1', 0, 6) === 'Exif\0\0') {
      orientation = exifOrientation(seg);
      sawExif = true;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const n = seg[5];
      frame = { height: seg.readUInt16BE(1), width: seg.readUInt16BE(3), comps: [] };
      for (let i = 0; i < n; i++) frame.comps.push({ h: seg[6 + 3 * i + 1] >> 4, v: seg[6 + 3 * i + 1] & 15, tq: seg[6 + 3 * i + 2] });
    }
    if (marker === 0xdb) {
      for (let q = 0; q < seg.length;) {
        const prec = seg[q] >> 4, id = seg[q] & 15, table = new Float64Array(64);
        for (let i = 0; i < 64; i++) table[ZIGZAG[i]] = prec ? seg.readUInt16BE(q + 1 + 2 * i) : seg[q + 1 + i];
        tables[id] = table;
        q += 1 + 64 * (prec ? 2 : 1);
      }
    }
    if (marker === 0xee && seg.length >= 12 && seg.toString('latin1', 0, 5) === 'Adobe') adobe = { transform: seg[11] };
    // jpeg-js applies an Adobe transform flag itself: leave APP14 out, we convert ourselves
    if (marker !== 0xee) keep.push(buf.subarray(p, p + 2 + len));
    p += 2 + len;
  }
  keep.push(buf.subarray(p));
  if (!frame) throw new Error('JPEG without a frame header');
  for (const c of frame.comps) c.quant = tables[c.tq] || null;
  return { frame, orientation, adobe, stripped: Buffer.concat(keep) };
}

// libjpeg's jdcolor.c tables (SCALEBITS 16, ONE_HALF rounding, arithmetic shifts).
const FIX = (x) => Math.floor(x * 65536 + 0.5);
const CR_R = new Int32Array(256), CB_B = new Int32Array(256), CR_G = new Int32Array(256), CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (FIX(1.40200) * x + 32768) >> 16;
  CB_B[i] = (FIX(1.77200) * x + 32768) >> 16;
  CR_G[i] = -FIX(0.71414) * x;
  CB_G[i] = -FIX(0.34414) * x + 32768;
}
const clamp8 = (v) => v < 0 ? 0 : v > 255 ? 255 : v;

// One chroma plane (pw x ph) to the luma grid (w x h): libjpeg's fancy upsampling for 2x1,
// 2x2 and 1x2 (jdsample.c, edges replicated; not at scale 1/8), plain replication otherwise.
function upsample(plane, pw, ph, hf, vf, w, h, fancyAllowed) {
  const at = (x, y) => plane[y * pw + x];
  const out = new Uint8Array(w * h);
  if (hf === 1 && vf === 1) { for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = at(x, y); return out; }
  const fancy = fancyAllowed && ((hf === 2 && (vf === 1 || vf === 2) && pw > 2) || (hf === 1 && vf === 2));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v;
      if (!fancy) v = at(Math.floor(x / hf), Math.floor(y / vf));
      else if (vf === 1) {			// h2v1
        const c = x >> 1, odd = x & 1;
        if (!odd) v = c === 0 ? at(0, y) : (at(c, y) * 3 + at(c - 1, y) + 1) >> 2;
        else v = c === pw - 1 ? at(c, y) : (at(c, y) * 3 + at(c + 1, y) + 2) >> 2;
      } else {
        const r = y >> 1, lower = y & 1;
        const r2 = lower ? Math.min(r + 1, ph - 1) : Math.max(r - 1, 0);
        if (hf === 1) v = ((at(x, r) * 3 + at(x, r2)) + (lower ? 2 : 1)) >> 2;	// h1v2
        else {										// h2v2
          const c = x >> 1, odd = x & 1;
          const col = (k) => at(k, r) * 3 + at(k, r2);
          if (!odd) v = c === 0 ? (col(0) * 4 + 8) >> 4 : (col(c) * 3 + col(c - 1) + 8) >> 4;
          else v = c === pw - 1 ? (col(c) * 4 + 7) >> 4 : (col(c) * 3 + col(c + 1) + 7) >> 4;
        }
      }
      out[y * w + x] = v;
    }
  }
  return out;
}

// The scaled inverse DCT libjpeg-turbo runs at size n/8.  n = 1, 2, 4 (jidctred.c): each
// output sample is the mean of the 8-point inverse DCT over its (8/n) x (8/n) square of the
// block, i.e. a box average of the full decode.  n = 3, 5, 6, 7 and 9..16 (jidctint.c
// jpeg_idct_NxN): the n-point inverse DCT of the block's first min(n, 8) x min(n, 8)
// coefficients, with the gain that keeps a block's mean.  jpeg-js gives decoded samples, not
// coefficients; their forward DCT gives the coefficients back (to within its rounding and
// clipping).  Blocks that the image's edge cuts are completed by repeating the edge, as
// encoders pad them.
const COS8 = [], CU = (u) => (u === 0 ? Math.SQRT1_2 : 1);
for (let x = 0; x < 8; x++) { COS8.push([]); for (let u = 0; u < 8; u++) COS8[x].push(Math.cos((2 * x + 1) * u * Math.PI / 16)); }

function dctScale(plane, pw, ph, n, outW, outH, quant) {
  const cosN = [];
  for (let x = 0; x < n; x++) { cosN.push([]); for (let u = 0; u < 8; u++) cosN[x].push(Math.cos((2 * x + 1) * u * Math.PI / (2 * n))); }
  const box = n === 1 || n === 2 || n === 4;
  const m = box ? 8 : n;				// points of the inverse DCT
  const cosM = box ? COS8 : cosN;
  const nu = Math.min(m, 8);
  const out = new Uint8Array(outW * outH);
  const f = new Float64Array(64), t = new Float64Array(64), F = new Float64Array(64);
  const g = new Float64Array(m * 8), r = new Float64Array(m * m);
  for (let by = 0; by * 8 < ph; by++) {
    for (let bx = 0; bx * 8 < pw; bx++) {
      for (let y = 0; y < 8; y++) {
        const sy = Math.min(by * 8 + y, ph - 1);
        for (let x = 0; x < 8; x++) f[y * 8 + x] = plane[sy * pw + Math.min(bx * 8 + x, pw - 1)] - 128;
      }
      // forward DCT: F(v, u) = 1/4 C(u) C(v) sum f(y, x) cos cos; then each coefficient
      // snapped to its quantization step, which makes it the file's exactly (clipped or
      // edge-padded blocks may be too far from a step: those stay as recovered)
      for (let y = 0; y < 8; y++) for (let u = 0; u < nu; u++) {
        let a = 0; for (let x = 0; x < 8; x++) a += f[y * 8 + x] * COS8[x][u]; t[y * 8 + u] = a;
      }
      for (let v = 0; v < nu; v++) for (let u = 0; u < nu; u++) {
        let a = 0; for (let y = 0; y < 8; y++) a += t[y * 8 + u] * COS8[y][v];
        a *= CU(u) * CU(v) / 4;
        if (quant) {
          const q = quant[v * 8 + u], k = Math.round(a / q);
          if (Math.abs(a / q - k) < 0.35) a = k * q;
        }
        F[v * 8 + u] = a;
      }
      // m-point inverse DCT of the low frequencies
      for (let v = 0; v < nu; v++) for (let x = 0; x < m; x++) {
        let a = 0; for (let u = 0; u < nu; u++) a += CU(u) * F[v * 8 + u] * cosM[x][u]; g[x * 8 + v] = a;
      }
      for (let y = 0; y < m; y++) for (let x = 0; x < m; x++) {
        let a = 0; for (let v = 0; v < nu; v++) a += CU(v) * g[x * 8 + v] * cosM[y][v];
        r[y * m + x] = a / 4;
      }
      const k = m / n;				// box: average k x k of the 8-point output
      for (let y = 0; y < n && by * n + y < outH; y++) {
        for (let x = 0; x < n && bx * n + x < outW; x++) {
          let a = 0;
          for (let yy = 0; yy < k; yy++) for (let xx = 0; xx < k; xx++) a += r[(y * k + yy) * m + x * k + xx];
          out[(by * n + y) * outW + bx * n + x] = clamp8(Math.floor(a / (k * k) + 128.5));
        }
      }
    }
  }
  return out;
}

function decodeJpeg(buf, minWidth, minHeight) {
  const jpeg = need('jpeg-js');
  const hd = jpegHeader(buf);
  const { frame } = hd;
  const nc = frame.comps.length;
  if (nc !== 1 && nc !== 3) throw new Error(`JPEG with ${nc} components (CMYK): not handled here, use --pixels`);
  const raw = jpeg.decode(hd.stripped, { useTArray: true, formatAsRGBA: false, colorTransform: false,
                                          maxResolutionInMP: 1000, maxMemoryUsageInMB: 4096 });
  const w = raw.width, h = raw.height, d = raw.data;

  // the DCT scale M/8 (image_jpeg.c choose_scale) and libjpeg's output size at it
  let m = 1;
  for (; m < 8; m++) {
    const [ow, oh] = orientDims(hd.orientation, Math.ceil(w * m / 8), Math.ceil(h * m / 8));
    if (ow >= minWidth && oh >= minHeight) break;
  }
  const W = Math.ceil(w * m / 8), H = Math.ceil(h * m / 8);

  // every component at the output size (jdmaster.c: a subsampled component's IDCT runs at a
  // larger size instead of being upsampled where it can; otherwise jdsample.c upsamples)
  const comps = nc === 1 ? [{ h: 1, v: 1, quant: frame.comps[0].quant }] : frame.comps;
  const maxH = Math.max(...comps.map((c) => c.h)), maxV = Math.max(...comps.map((c) => c.v));
  const planes = [];
  for (let k = 0; k < comps.length; k++) {
    const { h: ch, v: cv } = comps[k];
    const hf = maxH / ch, vf = maxV / cv;
    if (!Number.isInteger(hf) || !Number.isInteger(vf)) throw new Error('JPEG with unusual chroma sampling: use --pixels');
    // jpeg-js repeated each sample (nearest): sample (x, y) of the plane sits at (x * hf, y * vf)
    const pw = Math.ceil(w * ch / maxH), ph = Math.ceil(h * cv / maxV);
    let plane = new Uint8Array(pw * ph);
    for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) plane[y * pw + x] = d[((y * vf) * w + x * hf) * 3 + k];
    let ss = m;
    while (ss < 8 && (maxH * m) % (ch * ss * 2) === 0 && (maxV * m) % (cv * ss * 2) === 0) ss *= 2;
    const sw = Math.ceil(w * ch * ss / (maxH * 8)), sh = Math.ceil(h * cv * ss / (maxV * 8));
    plane = dctScale(plane, pw, ph, ss, sw, sh, comps[k].quant);
    const hr = (maxH * m) / (ch * ss), vr = (maxV * m) / (cv * ss);
    planes.push(hr === 1 && vr === 1 ? plane : upsample(plane, sw, sh, hr, vr, W, H, m > 1));
  }
  const rgb = new Uint8Array(W * H * 3);
  const isRgb = hd.adobe && hd.adobe.transform === 0;
  for (let i = 0; i < W * H; i++) {
    if (nc === 1) { rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = planes[0][i]; continue; }
    const y = planes[0][i], cb = planes[1][i], cr = planes[2][i];
    if (isRgb) { rgb[3 * i] = y; rgb[3 * i + 1] = cb; rgb[3 * i + 2] = cr; continue; }
    rgb[3 * i] = clamp8(y + CR_R[cr]);
    rgb[3 * i + 1] = clamp8(y + ((CB_G[cb] + CR_G[cr]) >> 16));
    rgb[3 * i + 2] = clamp8(y + CB_B[cb]);
  }
  return { img: orient({ width: W, height: H, pixels: rgb }, hd.orientation), scale: m, orientation: hd.orientation };
}

// ---------------------------------------------------------------------------------------
// PNG: pngjs, with libpng's transformations as image_png.c asks for them: palette and grey
// expanded, 16-bit samples reduced to their high byte (png_set_strip_16), alpha and tRNS
// dropped (no compositing), orientation from an eXIf chunk before IDAT.
// ---------------------------------------------------------------------------------------
function decodePng(buf) {
  const { PNG } = need('pngjs');
  let p = 8, orientation = 1, depth = 8, colorType = 2, sawIdat = false;
  const keep = [buf.subarray(0, 8)];
  while (p + 12 <= buf.length) {
    const len = buf.readUInt32BE(p), type = buf.toString('latin1', p + 4, p + 8);
    const chunk = buf.subarray(p, p + 12 + len);
    if (type === 'IHDR') { depth = buf[p + 16]; colorType = buf[p + 17]; }
    if (type === 'IDAT') sawIdat = true;
    if (type === 'eXIf' && !sawIdat) orientation = exifOrientation(buf.subarray(p + 8, p + 8 + len));
    if (type !== 'tRNS') keep.push(chunk);	// pngjs would zero transparent pixels' colour
    p += 12 + len;
    if (type === 'IEND') break;
  }
  const png = PNG.sync.read(Buffer.concat(keep), { skipRescale: true });
  const n = png.width * png.height, d = png.data;
  const rgb = new Uint8Array(n * 3);
  const scale = colorType === 3 ? (v) => v : depth === 16 ? (v) => v >> 8
    : depth < 8 ? (v) => v * 255 / ((1 << depth) - 1) : (v) => v;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = scale(d[4 * i + c]);
  return { img: orient({ width: png.width, height: png.height, pixels: rgb }, orientation), scale: 8, orientation };
}

// What cv_input_pixels returns for this photo (JPEG decoding approximated).
function inputPixels(buf, s) {
  const minW = Math.floor(s.width * 5 / 4) + 1, minH = Math.floor(s.height * 5 / 4) + 1;
  let dec;
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) dec = decodeJpeg(buf, minW, minH);
  else if (buf.length >= 8 && buf.toString('latin1', 1, 4) === 'PNG') dec = decodePng(buf);
  else throw new Error('only JPEG and PNG are decoded here; use --pixels for other formats');
  return render(dec.img, viewFor(s.resize, dec.img), s.width, s.height).pixels;
}

// ---------------------------------------------------------------------------------------
// Detection post-processing (cv_detector_detect with cv_detect_nms and cv_box_clip).
// ---------------------------------------------------------------------------------------
function boxArea(b) {
  if (![b.left, b.top, b.width, b.height].every(Number.isFinite) || b.width <= 0 || b.height <= 0) return 0;
  return b.width * b.height;
}

function iou(a, b) {	// in double, over float32 coordinates, as box.c
  const aa = boxArea(a), ab = boxArea(b);
  if (aa <= 0 || ab <= 0) return 0;
  const iw = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const ih = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  if (!(iw > 0) || !(ih > 0)) return 0;
  const inter = iw * ih, r = inter / (aa + ab - inter);
  return r < 0 ? 0 : r > 1 ? 1 : r;
}

const unitClamp = (x) => (Number.isNaN(x) ? 0 : Math.min(Math.max(x, 0), 1));

function clip(b) {	// float32 arithmetic, as cv_box_clip
  const right = unitClamp(f32(b.left + b.width)), bottom = unitClamp(f32(b.top + b.height));
  const left = unitClamp(b.left), top = unitClamp(b.top);
  return { left, top, width: right > left ? f32(right - left) : 0, height: bottom > top ? f32(bottom - top) : 0 };
}

function postProcess(boxes, scores, nTags, threshold, overlap, maxDetections) {
  const cells = boxes.length / 4;
  const cand = [];
  for (let c = 0; c < cells; c++) {
    for (let k = 0; k < nTags; k++) {
      const p = scores[c * nTags + k];
      if (!(p >= threshold)) continue;
      cand.push({ tag: k, score: p, index: cand.length,
                  box: { left: boxes[4 * c], top: boxes[4 * c + 1], width: boxes[4 * c + 2], height: boxes[4 * c + 3] } });
    }
  }
  return suppress(cand, overlap, maxDetections);
}

// NMS as cv_detect_nms, then cv_box_clip: candidates {tag, score, index, box}; the score is
// what they are ranked by (the calibrated probability, or the raw score for a TFLite file's
// outputs, which are then calibrated here: the same order, as calibration is increasing).
function suppress(cand, overlap, maxDetections, calibrate) {
  // probability descending, then tag, then candidate order (cell, then tag): a total order
  cand.sort((a, b) => (b.score - a.score) || (a.tag - b.tag) || (a.index - b.index));
  const kept = [];
  for (const c of cand) {
    if (kept.length >= maxDetections) break;
    if (!kept.some((k) => k.tag === c.tag && iou(k.box, c.box) > overlap)) kept.push(c);
  }
  const out = [];
  for (const k of kept) {
    const b = clip(k.box);
    if (b.width <= 0 || b.height <= 0) continue;
    out.push({ tag: k.tag, probability: calibrate ? calibrate(k.score) : k.score, ...b });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// A TFLite file (cv_export(iteration, 'tflite')): its metadata is the JSON object in the
// buffer of Model.metadata "pgvision" (tensorflow/lite/schema/schema.fbs: Model.buffers is
// field 4, Model.metadata field 6; Metadata.name 0, Metadata.buffer 1; Buffer.data 0).
// ---------------------------------------------------------------------------------------
function isTflite(bytes) { return bytes.length >= 8 && bytes.toString('latin1', 4, 8) === 'TFL3'; }

function readTfliteMetadata(b) {
  const u32 = (p) => b.readUInt32LE(p);
  const field = (table, i) => {	// position of field i of the table at `table`, or 0
    const vt = table - b.readInt32LE(table), vlen = b.readUInt16LE(vt);
    const o = 4 + 2 * i < vlen ? b.readUInt16LE(vt + 4 + 2 * i) : 0;
    return o ? table + o : 0;
  };
  const ref = (p) => p + u32(p);
  const vector = (p) => { const v = ref(p); return { n: u32(v), at: v + 4 }; };
  const root = u32(0);
  const mf = field(root, 6), bf = field(root, 4);
  if (!mf || !bf) fail('the TFLite file has no metadata: not a pgvision export?');
  const entries = vector(mf), buffers = vector(bf);
  for (let i = 0; i < entries.n; i++) {
    const e = ref(entries.at + 4 * i), nf = field(e, 0), bufIndex = field(e, 1);
    if (!nf || !bufIndex) continue;
    const name = vector(nf);
    if (b.toString('utf8', name.at, name.at + name.n) !== 'pgvision') continue;
    const idx = u32(bufIndex);
    if (idx >= buffers.n) fail('the TFLite metadata names a buffer the file does not have');
    const df = field(ref(buffers.at + 4 * idx), 0);
    if (!df) fail('the TFLite metadata buffer is empty');
    const data = vector(df);
    const obj = JSON.parse(b.toString('utf8', data.at, data.at + data.n));
    const meta = {};	// the ONNX file's form: every value a string (arrays as JSON)
    for (const [k, v] of Object.entries(obj)) meta[k] = typeof v === 'string' ? v : JSON.stringify(v);
    return meta;
  }
  return fail('the TFLite file has no "pgvision" metadata: not a pgvision export?');
}

// The TFLite detector's raw outputs of the photo and of its mirror (the pixels flipped left
// to right) to cv_detect's detections: the mirror's cells turned back
// (cv_detector_mirror_outputs), the two averaged with the quality logit times the views' box
// agreement (cv_detector_combine_mirror), then the scores, their calibration and the boxes as
// cv_detector_decode (detector.c, box.c): float32 where the C code computes in float, double
// where it does.
function detectRaw(photo, mirror, s, threshold, overlap, maxDetections) {
  const T = s.tags.length, od = T + 5, W = s.gridWidth, H = s.gridHeight;
  if (photo.length !== W * H * od || mirror.length !== W * H * od)
    fail(`the model gives ${photo.length} outputs, not ${W}x${H} cells of ${od}`);
  const limit = s.codeLimit, a = s.calibA, bc = s.calibB;
  const exp = (c) => Math.exp(Math.min(Math.max(c, -limit), limit));
  const out = new Float32Array(W * H * od);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = (y * W + x) * od, m = (y * W + (W - 1 - x)) * od;
      const pa = photo.subarray(c, c + od), mb = Float32Array.from(mirror.subarray(m, m + od));
      const t = mb[T]; mb[T] = mb[T + 2]; mb[T + 2] = t;	// left and right trade places
      const da = [0, 1, 2, 3].map((j) => exp(pa[T + j])), db = [0, 1, 2, 3].map((j) => exp(mb[T + j]));
      const inter = (Math.min(da[0], db[0]) + Math.min(da[2], db[2])) * (Math.min(da[1], db[1]) + Math.min(da[3], db[3]));
      const uni = (da[0] + da[2]) * (da[1] + da[3]) + (db[0] + db[2]) * (db[1] + db[3]) - inter;
      const agree = uni > 0 ? inter / uni : 0;
      for (let j = 0; j < od; j++) out[c + j] = f32(0.5 * f32(pa[j] + mb[j]));
      let q = 1 / (1 + Math.exp(-out[c + T + 4])) * Math.max(agree, 1e-7);
      q = Math.min(q, 1 - 1e-7);
      out[c + T + 4] = Math.log(q / (1 - q));
    }
  }
  const sigmoid = (v) => f32(1 / f32(1 + f32(Math.exp(-v))));
  const calibrate = (score) => {
    const v = Math.min(Math.max(score, 1e-7), 1 - 1e-7);
    return f32(1 / (1 + Math.exp(-(a * Math.log(v / (1 - v)) + bc))));
  };
  let minScore = 0;
  if (a > 0) {
    const q = Math.min(Math.max(threshold, 1e-7), 1 - 1e-7);
    minScore = f32(1 / (1 + Math.exp(-((Math.log(q / (1 - q)) - bc) / a))));
  }
  const cw = f32(1 / W), ch = f32(1 / H), cand = [];
  for (let c = 0; c < W * H; c++) {
    const o = out.subarray(c * od, (c + 1) * od), centre = sigmoid(o[T + 4]);
    const x = c % W, y = Math.floor(c / W);
    for (let k = 0; k < T; k++) {
      const score = f32(Math.sqrt(f32(sigmoid(o[k]) * centre)));
      if (score < minScore || calibrate(score) < threshold) continue;
      const cx = f32(f32(x + 0.5) * cw), cy = f32(f32(y + 0.5) * ch);
      const l = exp(o[T]) * cw, t = exp(o[T + 1]) * ch, r = exp(o[T + 2]) * cw, b = exp(o[T + 3]) * ch;
      cand.push({ tag: k, score, index: cand.length,
                  box: { left: f32(cx - l), top: f32(cy - t), width: f32(l + r), height: f32(t + b) } });
    }
  }
  return suppress(cand, overlap, maxDetections, calibrate);
}

// ---------------------------------------------------------------------------------------
async function main() {
  const args = process.argv.slice(2);
  const opt = { json: false, pixels: [], savePixels: [] };
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => { if (i + 1 >= args.length) fail(a + ' needs a value'); return args[++i]; };
    if (a === '--json') opt.json = true;
    else if (a === '--pixels') opt.pixels.push(val());
    else if (a === '--save-pixels') opt.savePixels.push(val());
    else if (a === '--threshold') opt.threshold = parseFloat(val());
    else if (a === '--max-detections') opt.maxDetections = parseInt(val(), 10);
    else if (a === '--overlap') opt.overlap = parseFloat(val());
    else if (a === '--converted') opt.converted = val();
    else if (a === '--litert') opt.litert = true;
    else if (a.startsWith('--')) fail('unknown option ' + a);
    else pos.push(a);
  }
  if (pos.length < 2) fail('usage: node run-onnx.js MODEL.onnx PHOTO... [--pixels RAW.rgb]... [--json] '
                           + '[--threshold T] [--max-detections N] [--overlap O]');
  const [modelPath, ...photos] = pos;
  if (opt.pixels.length && opt.pixels.length !== photos.length) fail('give one --pixels file per photo');
  if (opt.savePixels.length && opt.savePixels.length !== photos.length) fail('give one --save-pixels file per photo');
  const modelBytes = fs.readFileSync(modelPath);
  const tflite = isTflite(modelBytes);
  if (tflite && !opt.converted && !opt.litert)
    fail('onnxruntime does not read TFLite: give --litert (run it in LiteRT.js) or --converted MODEL.onnx, the file '
         + 'converted to ONNX (e.g. by ../shared/peers/tflite2onnx.py); its metadata and post-processing are taken from the TFLite file');
  if (opt.litert && (!tflite || opt.converted)) fail('--litert runs a TFLite file, without --converted');
  const s = modelSettings(tflite ? readTfliteMetadata(modelBytes) : readMetadata(modelBytes));
  if (tflite && s.task === 'detection' && !(s.gridWidth > 0 && s.gridHeight > 0)) fail('the TFLite detector has no grid in its metadata');
  const threshold = opt.threshold !== undefined ? opt.threshold : 0.1;
  const overlap = opt.overlap !== undefined ? opt.overlap : s.nmsOverlap;
  const maxDetections = opt.maxDetections !== undefined ? opt.maxDetections : s.maxDetections;
  if (!(threshold >= 0 && threshold <= 1)) fail('threshold must be in 0..1');
  if (!(overlap >= 0 && overlap <= 1)) fail('overlap must be in 0..1');
  if (!(maxDetections >= 1)) fail('max-detections must be at least 1');

  // runRaw(pixels): a TFLite file's single output, as a typed array (onnxruntime on the
  // converted file, or LiteRT.js on the file itself); session: onnxruntime's, for ONNX files
  let session = null, runRaw;
  if (opt.litert) {
    const model = await require(path.join(__dirname, 'litert-node.js')).open(modelBytes);
    const [, ih, iw, ic] = model.input.shape;
    if (model.input.shape.length !== 4 || ih !== s.height || iw !== s.width || ic !== 3)
      fail(`the TFLite input is [${model.input.shape}], not [1, ${s.height}, ${s.width}, 3]`);
    if (model.input.dtype !== (s.inputType === 'float32' ? 'float32' : 'uint8'))
      fail(`the TFLite input is ${model.input.dtype}, the metadata says ${s.inputType}`);
    if (model.outputs.length !== 1 || model.outputs[0].dtype !== 'float32') fail('the TFLite file has not one float32 output');
    runRaw = async (px) => (await model.run(model.input.dtype === 'uint8' ? Uint8Array.from(px) : Float32Array.from(px)))[0];
  } else {
    const ort = need('onnxruntime-node');
    session = await ort.InferenceSession.create(tflite ? fs.readFileSync(opt.converted) : modelBytes, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  }

  for (let n = 0; n < photos.length; n++) {
    const photoPath = photos[n];
    let pixels;
    if (opt.pixels.length) {
      pixels = fs.readFileSync(opt.pixels[n]);
      if (pixels.length !== s.width * s.height * 3)
        fail(`${opt.pixels[n]} has ${pixels.length} bytes; the model takes ${s.width}x${s.height}x3 = ${s.width * s.height * 3}`);
    } else {
      pixels = inputPixels(fs.readFileSync(photoPath), s);
      if (opt.savePixels.length) fs.writeFileSync(opt.savePixels[n], pixels);
    }
    // a TFLite file of the int8 engine takes the real values its quantized input stands for
    const real = tflite && s.inputType !== 'float32' ? (v) => (v - s.zeroPoint) * s.inputScale : (v) => v;
    const run = async (px) => {
      const ort = need('onnxruntime-node');
      const input = new ort.Tensor('float32', Float32Array.from(px, real), [1, s.height, s.width, 3]);
      return session.run({ [session.inputNames[0]]: input });
    };
    if (!runRaw) runRaw = async (px) => (await run(px))[session.outputNames[0]].data;
    const result = tflite ? null : await run(pixels);

    const report = { model: path.basename(modelPath), photo: photoPath, task: s.task,
                     input: opt.pixels.length ? 'pixels' : 'decoded' };
    if (tflite && s.task !== 'detection') {
      const probs = await runRaw(pixels);
      if (probs.length !== s.tags.length) fail(`the model gives ${probs.length} probabilities for ${s.tags.length} tags`);
      const order = s.tags.map((t, i) => i).sort((a, b) => (probs[b] - probs[a]) || (a - b));
      report.predictions = order.map((i) => ({ tag: s.tags[i], probability: probs[i] }));
    } else if (tflite) {
      // the raw outputs of the photo and of its mirror, the pixels flipped left to right
      const mirrored = new Uint8Array(pixels.length), rowBytes = s.width * 3;
      for (let y = 0; y < s.height; y++)
        for (let x = 0; x < s.width; x++)
          for (let c = 0; c < 3; c++) mirrored[y * rowBytes + x * 3 + c] = pixels[y * rowBytes + (s.width - 1 - x) * 3 + c];
      const [own, other] = [await runRaw(pixels), await runRaw(mirrored)];
      report.threshold = threshold; report.overlap = overlap; report.max_detections = maxDetections;
      report.detections = detectRaw(own, other,
                                    s, threshold, overlap, maxDetections)
        .map((d) => ({ tag: s.tags[d.tag], probability: d.probability, left: d.left, top: d.top, width: d.width, height: d.height }));
    } else if (s.task !== 'detection') {
      const probs = result.probabilities.data;
      if (probs.length !== s.tags.length) fail(`the model gives ${probs.length} probabilities for ${s.tags.length} tags`);
      const order = s.tags.map((t, i) => i).sort((a, b) => (probs[b] - probs[a]) || (a - b));
      report.predictions = order.map((i) => ({ tag: s.tags[i], probability: probs[i] }));
    } else {
      const boxes = result.boxes.data, scores = result.scores.data;
      if (scores.length * 4 !== boxes.length * s.tags.length) fail('boxes and scores disagree on the number of cells');
      report.threshold = threshold; report.overlap = overlap; report.max_detections = maxDetections;
      report.detections = postProcess(boxes, scores, s.tags.length, threshold, overlap, maxDetections)
        .map((d) => ({ tag: s.tags[d.tag], probability: d.probability, left: d.left, top: d.top, width: d.width, height: d.height }));
    }

    if (opt.json) { process.stdout.write(JSON.stringify(report) + '\n'); continue; }
    if (photos.length > 1) console.log(`== ${photoPath}`);
    if (s.task !== 'detection') {
      for (const p of report.predictions) console.log(`${p.tag}\t${p.probability.toFixed(6)}`);
    } else {
      console.log('tag\tprobability\tleft\ttop\twidth\theight');
      for (const d of report.detections)
        console.log([d.tag, d.probability.toFixed(6), d.left.toFixed(6), d.top.toFixed(6), d.width.toFixed(6), d.height.toFixed(6)].join('\t'));
    }
  }
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
