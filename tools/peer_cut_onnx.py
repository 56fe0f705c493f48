#!/usr/bin/python3
"""Cut a tflite2onnx.py float model at a detector's two feature maps, at another input size.

usage: /usr/bin/python3 tools/peer_cut_onnx.py MODEL.tflite T0,T1 SIZE OUT.onnx
           [--onnx FULL.onnx] [--no-clamp] [--peers DIR]

A benchmark helper for tools/bench_detect.sh (the onnxruntime peer of the detection
backbone), not product code.  T0,T1 are the TFLite tensor indices of the two maps
(bench_detect --dump-maps prints the ones src/core/detect picks); SIZE the square input.

FULL.onnx is the model ../shared/peers/tflite2onnx.py wrote for MODEL.tflite (float, not
--qdq/--fakequant; scores or --features).  Without --onnx, tflite2onnx.convert is run here on
the operators up to the maps only (the SSD file's later operators, CONCATENATION and the
custom post-processing, are beyond what it converts).

tflite2onnx.py names its values by a counter ("Conv_16", "Clip_22"), not by TFLite tensor,
so the maps are found by operator order: every CONV_2D / DEPTHWISE_CONV_2D becomes exactly
one ONNX Conv, every ADD one Add (and MUL Mul, pools AveragePool/MaxPool, MEAN ReduceMean),
in file order; a fused activation is the Relu or Clip that alone reads it; QUANTIZE and
DEQUANTIZE are identities.  The mapping is checked: every kept Conv's weights must equal
the TFLite weights (dequantized, transposed as tflite2onnx does) bit for bit, and the
shapes inferred at the file's size must be the TFLite ones.

The cut keeps only the nodes the maps depend on, sets the input to [1, SIZE, SIZE, 3] and
recomputes every SAME padding for the new size (tflite2onnx.py writes explicit pads for the
file's size; the SSD file's 300 has odd maps, 75x75 and 19x19, so at 320 or 416 two of its
stride-2 convolutions pad 0/1 where they padded 1/1).  A Reshape, Gemm or Softmax among the kept nodes (a fixed shape) is an error.

Clamp (default; --no-clamp drops it): src/core/nn clamps the result of every convolution,
pool, ADD, MUL, FULLY_CONNECTED and CONCATENATION to the range its uint8/int8 output can
hold, as TFLite's integer kernels do (the SSD file has no fused RELU6: its [0, 6] is only
that range).  The cut does the same with a Clip: the fused activation's Clip is narrowed,
a Relu becomes a Clip, otherwise a Clip is inserted, so both compute one function.

Outputs: the two maps in graph-output order, float32 NCHW [1, C, H, W] (onnxruntime's own
layout: no transposes added); the input is as tflite2onnx.py's ("input", NHWC float,
(pixel - zero_point) * scale, metadata_props input_scale / input_zero_point / input_shape).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRIMARY = {'CONV_2D': 'Conv', 'DEPTHWISE_CONV_2D': 'Conv', 'ADD': 'Add', 'MUL': 'Mul',
           'AVERAGE_POOL_2D': 'AveragePool', 'MAX_POOL_2D': 'MaxPool', 'MEAN': 'ReduceMean'}
CLAMPED = ('CONV_2D', 'DEPTHWISE_CONV_2D', 'ADD', 'MUL', 'AVERAGE_POOL_2D', 'MAX_POOL_2D')
FIXED_SHAPE = ('Reshape', 'Gemm', 'Softmax', 'Flatten')


ACT_FIELD = {'CONV_2D': 3, 'DEPTHWISE_CONV_2D': 4, 'ADD': 0, 'MUL': 0, 'AVERAGE_POOL_2D': 5, 'MAX_POOL_2D': 5}


def fused_act(op):
    """fused_activation_function of the op's options (the field numbers tflite2onnx.py reads)."""
    f = ACT_FIELD.get(op['op'])
    return op['opt'].scalar(f, 'b') if f is not None and op['opt'] is not None else 0


def quant_range(t):
    """Real range of a per-tensor uint8/int8 tensor (src/core/nn/build_ops.c quant_range)."""
    if len(t['scale']) != 1 or t['type'] not in (3, 9):
        return None
    s = float(t['scale'][0])
    if not np.isfinite(s) or s <= 0:
        return None
    z = int(t['zp'][0]) if len(t['zp']) else 0
    qmin, qmax = (0, 255) if t['type'] == 3 else (-128, 127)
    return float(np.float32(s * (qmin - z))), float(np.float32(s * (qmax - z)))


def window(op):
    """(kernel hw, stride hw, dilation hw, same) of a Conv/pool op, from its TFLite options."""
    kind, o = op['op'], op['opt']
    same = o.scalar(0, 'b') == 0
    stride = (o.scalar(2, 'i'), o.scalar(1, 'i'))
    if kind == 'DEPTHWISE_CONV_2D':
        return None, stride, (o.scalar(6, 'i', 1), o.scalar(5, 'i', 1)), same
    if kind == 'CONV_2D':
        return None, stride, (o.scalar(5, 'i', 1), o.scalar(4, 'i', 1)), same
    return (o.scalar(4, 'i'), o.scalar(3, 'i')), stride, (1, 1), same


def main(argv):
    flags = {'--no-clamp': False}
    opts = {'--onnx': None, '--peers': None}
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in opts and i + 1 < len(argv):
            opts[a] = argv[i + 1]
            i += 2
            continue
        if a in flags:
            flags[a] = True
        else:
            args.append(a)
        i += 1
    if len(args) != 4:
        sys.exit(__doc__)
    tfl_path, tlist, size, out_path = args[0], [int(x) for x in args[1].split(',')], int(args[2]), args[3]
    clamp = not flags['--no-clamp']
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    peers = opts['--peers'] or os.path.join(os.environ.get('PGVISION_SHARED', os.path.join(root, '..', 'shared')), 'peers')
    sys.path.insert(0, peers)
    import tflite2onnx as t2o

    tensors, ops, sg_in, sg_out = t2o.read_tflite(tfl_path)
    producer = {}
    for j, op in enumerate(ops):
        for o in op['outputs']:
            producer[o] = j

    def base(t):
        while t in producer and ops[producer[t]]['op'] in ('QUANTIZE', 'DEQUANTIZE'):
            t = ops[producer[t]]['inputs'][0]
        return t
    for t in tlist:
        if t not in producer:
            sys.exit('tensor %d is not computed by an operator' % t)
    last = max(producer[base(t)] for t in tlist)

    # --- the full float model, or a conversion of the ops up to the maps
    if opts['--onnx']:
        model = onnx.load(opts['--onnx'])
        meta = {p.key: p.value for p in model.metadata_props}
        if meta.get('fakequant', '0') != '0' or meta.get('qdq', '0') != '0':
            sys.exit('%s: a --fakequant/--qdq model; the float one is needed' % opts['--onnx'])
    else:
        # tflite2onnx.convert(--features) converts ops[:stop] with stop the last CONV_2D: a
        # marker conv after the last op we need makes it convert exactly those.
        marker = dict(op='CONV_2D', inputs=[ops[last]['outputs'][0]], outputs=[], opt=None)
        cut_ops = ops[:last + 1] + [marker]
        real = t2o.read_tflite
        t2o.read_tflite = lambda p: (tensors, cut_ops, sg_in, sg_out)
        try:
            model, meta = t2o.convert(tfl_path, features=True)
        finally:
            t2o.read_tflite = real
    g = model.graph

    # --- TFLite op -> ONNX node by order, per node type
    by_type = {}
    for n in g.node:
        by_type.setdefault(n.op_type, []).append(n)
    consumers = {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
    seen = {}
    op_node = {}  # tflite op index -> (primary node, activation node or None)
    value = {}    # tflite tensor -> onnx value name
    value[sg_in[0]] = g.node[0].output[0]  # the input Transpose
    assert g.node[0].op_type == 'Transpose' and g.node[0].input[0] == 'input'
    for j, op in enumerate(ops):
        kind = op['op']
        if kind in ('QUANTIZE', 'DEQUANTIZE'):
            continue
        ty = PRIMARY.get(kind)
        if ty is None:  # RESHAPE and kin: not mapped (a kept one is refused below)
            continue
        k = seen.get(ty, 0)
        seen[ty] = k + 1
        if j > last:
            continue
        if k >= len(by_type.get(ty, [])):
            sys.exit('op %d %s: the ONNX model has only %d %s nodes' % (j, kind, len(by_type.get(ty, [])), ty))
        prim = by_type[ty][k]
        act = None
        if fused_act(op):
            cs = consumers.get(prim.output[0], [])
            if len(cs) != 1 or cs[0].op_type not in ('Relu', 'Clip'):
                sys.exit('op %d %s: fused activation not found after %s' % (j, kind, prim.output[0]))
            act = cs[0]
        op_node[j] = (prim, act)
        value[op['outputs'][0]] = (act or prim).output[0]
    for j, op in enumerate(ops[:last + 1]):
        if op['op'] in ('QUANTIZE', 'DEQUANTIZE') and op['inputs'][0] in value:
            value[op['outputs'][0]] = value[op['inputs'][0]]
    outs = []
    for t in tlist:
        if t not in value:
            sys.exit('tensor %d (%s): its op is not one this script maps' % (t, tensors[t]['name']))
        outs.append(value[t])

    # --- nodes the maps depend on
    prod_node = {o: n for n in g.node for o in n.output}
    need, stack = set(), list(outs)
    while stack:
        v = stack.pop()
        n = prod_node.get(v)
        if n is None or id(n) in need:
            continue
        need.add(id(n))
        stack.extend(n.input)
    kept = [n for n in g.node if id(n) in need]
    bad = [n.op_type for n in kept if n.op_type in FIXED_SHAPE or (n.op_type == 'Transpose' and n is not g.node[0])]
    if bad:
        sys.exit('the graph before the maps has fixed-shape nodes: %s' % sorted(set(bad)))
    kept_ops = sorted(j for j, (p, a) in op_node.items() if id(p) in need)

    # --- check the mapping: Conv weights bit for bit, shapes at the file's size
    n_checked = 0
    inits = {x.name: x for x in g.initializer}
    for j in kept_ops:
        op, (prim, _) = ops[j], op_node[j]
        if prim.op_type != 'Conv':
            continue
        w = t2o.const_value(tensors[op['inputs'][1]])
        w = w.transpose(3, 0, 1, 2) if op['op'] == 'DEPTHWISE_CONV_2D' else w.transpose(0, 3, 1, 2)
        if not np.array_equal(numpy_helper.to_array(inits[prim.input[1]]), w):
            sys.exit('op %d: the weights of ONNX node %s differ: the op-order mapping is wrong' % (j, prim.output[0]))
        n_checked += 1
    native = [int(x) for x in tensors[sg_in[0]]['shape']]

    def nchw(shape):
        return [shape[0], shape[3], shape[1], shape[2]]

    def infer(m):
        inf = onnx.shape_inference.infer_shapes(m)
        return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
                for v in list(inf.graph.value_info) + list(inf.graph.output)}

    native_shapes = [list(tensors[t]['shape']) for t in tlist]
    probe = helper.make_model(helper.make_graph(
        [onnx.NodeProto.FromString(n.SerializeToString()) for n in kept], 'probe',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, native)],
        [helper.make_tensor_value_info(v, TensorProto.FLOAT, None) for v in outs], list(g.initializer)),
        opset_imports=[helper.make_opsetid('', 13)])
    got_native = infer(probe)
    for v, s in zip(outs, native_shapes):
        if got_native.get(v) != nchw(s):
            sys.exit('%s: shape %s at the file size, TFLite says %s' % (v, got_native.get(v), nchw(s)))

    # --- the cut graph at the new size
    shapes = {k: list(t['shape']) for k, t in enumerate(tensors)}
    for k, t in enumerate(tensors):
        if len(t['data']) == 0:
            t['shape'] = []
    tensors[sg_in[0]]['shape'] = [1, size, size, 3]
    needed_ops = [op for j, op in enumerate(ops[:last + 1])
                  if (j in op_node and id(op_node[j][0]) in need) or op['op'] in ('QUANTIZE', 'DEQUANTIZE')]
    t2o.infer_shapes(tensors, needed_ops)
    new_shapes = [list(tensors[t]['shape']) for t in tlist]
    n_pads_changed = 0
    for j in kept_ops:
        op, (prim, _) = ops[j], op_node[j]
        if prim.op_type not in ('Conv', 'AveragePool', 'MaxPool'):
            continue
        k, stride, dil, same = window(op)
        if k is None:
            k = [int(x) for x in tensors[op['inputs'][1]]['shape'][1:3]]
        if not same:
            continue
        old_in = shapes[op['inputs'][0]][1:3]
        attr = {a.name: a for a in prim.attribute}
        if list(attr['pads'].ints) != t2o.same_pads(old_in, k, stride, dil):  # our rule = tflite2onnx's at its size
            sys.exit('op %d: pads %s, expected %s at the file size' % (j, list(attr['pads'].ints),
                                                                        t2o.same_pads(old_in, k, stride, dil)))
        pads = t2o.same_pads(tensors[op['inputs'][0]]['shape'][1:3], k, stride, dil)
        if list(attr['pads'].ints) != pads:
            n_pads_changed += 1
            del attr['pads'].ints[:]
            attr['pads'].ints.extend(pads)
    new_inits = []
    n_clamps = n_inserted = 0
    n_kept = len(kept)
    if clamp:
        rename = {}
        for j in kept_ops:
            op, (prim, act) = ops[j], op_node[j]
            if op['op'] not in CLAMPED:
                continue
            r = quant_range(tensors[op['outputs'][0]])
            if r is None:
                continue
            lo, hi = r

            def const(v, p):
                name = '%s_clamp_%d' % (p, len(new_inits))
                new_inits.append(numpy_helper.from_array(np.array(v, np.float32), name))
                return name
            if act is not None and act.op_type == 'Clip':
                a_lo = float(numpy_helper.to_array(inits[act.input[1]]))
                a_hi = float(numpy_helper.to_array(inits[act.input[2]]))
                act.input[1] = const(max(a_lo, lo), 'lo')
                act.input[2] = const(min(a_hi, hi), 'hi')
            elif act is not None:  # Relu
                act.op_type = 'Clip'
                act.input.extend([const(max(0.0, lo), 'lo'), const(hi, 'hi')])
            else:
                y = prim.output[0]
                clipped = y + '_clamped'
                node = helper.make_node('Clip', [y, const(lo, 'lo'), const(hi, 'hi')], [clipped])
                kept.insert(kept.index(prim) + 1, node)
                rename[y] = clipped
                n_inserted += 1
            n_clamps += 1
        for n in kept:
            if n.op_type == 'Clip' and n.input[0] in rename and n.output[0] == rename[n.input[0]]:
                continue
            for q, x in enumerate(n.input):
                if x in rename:
                    n.input[q] = rename[x]
        outs = [rename.get(v, v) for v in outs]
    if outs[0] == outs[1]:
        kept.append(helper.make_node('Identity', [outs[1]], [outs[1] + '_copy']))
        outs[1] = outs[1] + '_copy'
    used = {x for n in kept for x in n.input}
    graph = helper.make_graph(
        kept, 'peer_cut_onnx',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, size, size, 3])],
        [helper.make_tensor_value_info(v, TensorProto.FLOAT, nchw(s)) for v, s in zip(outs, new_shapes)],
        [x for x in g.initializer if x.name in used] + [x for x in new_inits if x.name in used])
    cut = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='peer_cut_onnx.py')
    cut.ir_version = 7
    meta = dict(meta)
    meta.update({'input_shape': '1,%d,%d,3' % (size, size), 'output': 'maps', 'output_layout': 'NCHW',
                 'map_tensors': ','.join(map(str, tlist)),
                 'map_names': ';'.join(tensors[t]['name'] for t in tlist),
                 'map_shapes_nhwc': ';'.join('x'.join(map(str, s)) for s in new_shapes),
                 'clamp': str(int(clamp)), 'source': os.path.basename(tfl_path)})
    for k, v in meta.items():
        cut.metadata_props.add(key=k, value=str(v))
    onnx.checker.check_model(cut)

    # shapes at SIZE: onnx's inference over the cut graph = tflite2onnx's over the TFLite ops
    got = infer(cut)
    for v, s in zip(outs, new_shapes):
        if got.get(v) != nchw(s):
            sys.exit('%s: shape %s at %d, expected %s' % (v, got.get(v), size, nchw(s)))
    onnx.save(cut, out_path)
    print('wrote %s: %d of %d nodes kept, input 1x%dx%dx3, maps %s; %d Conv weights checked, '
          '%d paddings recomputed, %d clamps (%d Clip nodes added)' % (
              out_path, n_kept, len(g.node), size, size,
              ', '.join('%d %s %s' % (t, tensors[t]['name'].split(';')[0], 'x'.join(map(str, s)))
                        for t, s in zip(tlist, new_shapes)),
              n_checked, n_pads_changed, n_clamps, n_inserted))


if __name__ == '__main__':
    main(sys.argv[1:])
