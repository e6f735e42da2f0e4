"""zoo.load(..., precision=): bf16 autocast (warned once where the CPU lacks native bf16), int8 through
onnxruntime's dynamic quantization, both chosen from the CPU's flags at run time, never assumed."""
import json
import sys
import warnings

import pytest
import torch

import zoo
from zoo import cpu, export, onnx_run, precision
from zoo.tensor_key import tensor_key
from zoo.__main__ import main

from serving_models import write_caption_model, write_models

AVX2_ONLY = ("avx2",)
SAPPHIRE_RAPIDS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni", "amx_int8")
NO_AMX = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni")  # a Xeon whose host hides AMX
TEXTS = ["Peter visited Seoul .", "EU rejects German call to boycott British lamb .", "not bad at all ."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = write_models(tmp_path_factory.mktemp("models"), tasks=("ner", "sentiment"))
    write_caption_model(root / "caption-lstm")
    return root


def test_the_cpu_flags_come_from_this_machine_and_decide_bf16_and_vnni(monkeypatch):
    assert set(cpu.flags()) <= set(cpu.FLAGS) and "flags:" in cpu.describe()
    monkeypatch.setattr(cpu, "flags", lambda: AVX2_ONLY)
    assert not cpu.native_bf16() and not cpu.bf16_pays() and not cpu.has_vnni()
    monkeypatch.setattr(cpu, "flags", lambda: NO_AMX)
    assert cpu.native_bf16() and not cpu.bf16_pays() and cpu.has_vnni()  # bf16 in hardware, measured slower
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)
    assert cpu.native_bf16() and cpu.bf16_pays() and cpu.has_vnni()


@pytest.mark.parametrize("name", ["ner-bilstm", "sentiment-lstm", "caption-lstm"])
def test_bf16_loads_and_predicts_close_to_fp32(models, name, monkeypatch):
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)  # no warning to filter here
    fp32, bf16 = zoo.load(models / name), zoo.load(models / name, precision="bf16")
    assert (bf16.precision, bf16.runtime) == ("bf16", "torch")
    if name.startswith("caption"):
        import numpy as np
        feats = np.random.default_rng(0).normal(0, 1, (3, 1280)).astype(np.float32)
        for got, want in zip(bf16.predict_batch(list(feats)), fp32.predict_batch(list(feats))):
            assert isinstance(got[0]["caption"], str) and got[0]["score"] == pytest.approx(want[0]["score"], abs=0.1)
    elif name.startswith("ner"):
        got, want = bf16.predict(TEXTS[1], scores=True), fp32.predict(TEXTS[1], scores=True)
        for g, w in zip(got["tokens"], want["tokens"]):  # bf16 keeps 8 bits of mantissa: ~1e-2 relative
            assert list(g["scores"].values()) == pytest.approx(list(w["scores"].values()), abs=0.02)
    else:
        for g, w in zip(bf16.predict_batch(TEXTS), fp32.predict_batch(TEXTS)):
            assert g["positive"] == pytest.approx(w["positive"], abs=0.02)


@pytest.mark.parametrize("name", ["sentiment-rnn", "ner-rnn", "sentiment-lstm"])
def test_bf16_runs_the_encoder_under_autocast_for_one_input_and_for_a_batch(models, name, monkeypatch):
    from zoo.encoder import RecurrentEncoder
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)
    p = zoo.load(models / name, precision="bf16")
    seen, padded = [], RecurrentEncoder._padded
    monkeypatch.setattr(RecurrentEncoder, "_padded", lambda self, *a: seen.append(torch.is_autocast_enabled("cpu"))
                        or padded(self, *a))
    monkeypatch.setattr(RecurrentEncoder, "_rnn_steps", lambda *a: pytest.fail("the fp32 steps route under bf16"))
    p.predict(TEXTS[1])
    p.predict_batch(TEXTS)  # a batch: the vanilla RNN's fp32 route must not take it
    assert seen == [True, True]


@pytest.mark.parametrize("threshold", [None, 8])  # 8: the tiny models' layers of 8 or more outputs run in bf16
@pytest.mark.parametrize("name", ["sentiment-lstm", "ner-bilstm", "caption-lstm"])
def test_bf16_leaves_output_layers_of_few_classes_in_float32(models, name, threshold, monkeypatch):
    """bench/bf16_linear.py: a Linear layer of 2 or 9 outputs is slower in bf16 at every batch size; the
    caption decoder's wide layers are faster. Each Linear layer's output, called as the model calls it, says
    which it ran in: float32's exact numbers, or bf16's."""
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)
    if threshold:
        monkeypatch.setattr(precision, "BF16_MIN_OUTPUTS", threshold)
    model = zoo.load(models / name, precision="bf16").model
    for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
        x = torch.randn(3, layer.in_features)
        with torch.no_grad():
            y, fp32 = layer(x), torch.nn.functional.linear(x, layer.weight, layer.bias)
            bf16 = torch.nn.functional.linear(x.bfloat16(), layer.weight.bfloat16(), layer.bias.bfloat16()).float()
        assert y.dtype == torch.float32
        if layer.out_features >= precision.BF16_MIN_OUTPUTS:
            assert not torch.equal(y, fp32) and torch.allclose(y, bf16, atol=1e-2), layer
        else:
            assert torch.equal(y, fp32), layer
    if not name.startswith("caption") and not threshold:
        assert model.head.out_features < precision.BF16_MIN_OUTPUTS  # the output layer is one of the float32 ones


def test_bf16_weight_copies_follow_a_weight_changed_in_place(models, monkeypatch):
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)
    p, q = (zoo.load(models / "sentiment-lstm", precision="bf16") for _ in range(2))
    before = p.predict_batch(TEXTS)  # p's bf16 copies are made here
    for m in (p, q):
        with torch.no_grad():
            m.model.encoder.rnn.weight_ih_l0.mul_(-3.0)
    after, fresh = p.predict_batch(TEXTS), q.predict_batch(TEXTS)  # q copies the changed weights first
    assert after == fresh and after != before
    with torch.inference_mode():
        assert tensor_key([torch.zeros(2)]) is None  # no version to trust: nothing cached


def test_bf16_copies_made_under_inference_mode_serve_a_later_call_with_gradients(models, monkeypatch):
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)
    p = zoo.load(models / "sentiment-lstm", precision="bf16")
    with torch.inference_mode():  # as the app predicts
        p.predict_batch(TEXTS)
    _, batch = p.encode(TEXTS[2])
    p.model(batch).sum().backward()  # as zoo.probe's input gradients run afterwards on the same model
    grads = [q.grad for q in p.model.encoder.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_bf16_without_native_bf16_runs_but_warns_once(models, monkeypatch):
    monkeypatch.setattr(cpu, "flags", lambda: AVX2_ONLY)
    monkeypatch.setattr(precision, "_warned_bf16", False)
    with pytest.warns(RuntimeWarning, match="without native bf16"):
        p = zoo.load(models / "sentiment-rnn", precision="bf16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.load(models / "sentiment-lstm", precision="bf16")  # once per process
    assert set(p.predict("a fine film .")) == {"label", "positive", "negative"}


def test_bf16_on_avx512_bf16_without_amx_runs_but_warns_that_it_measured_slower(models, monkeypatch):
    monkeypatch.setattr(cpu, "flags", lambda: NO_AMX)
    monkeypatch.setattr(precision, "_warned_bf16", False)
    with pytest.warns(RuntimeWarning, match="AVX512-BF16 but no AMX .*measured slower than fp32"):
        p = zoo.load(models / "sentiment-rnn", precision="bf16")
    assert set(p.predict("a fine film .")) == {"label", "positive", "negative"}
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)
    monkeypatch.setattr(precision, "_warned_bf16", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.load(models / "sentiment-rnn", precision="bf16")  # with AMX: no warning


def test_the_command_prints_the_bf16_warning_as_one_line_and_leaves_warnings_as_they_were(models, monkeypatch, tmp_path,
                                                                                          capsys):
    src = tmp_path / "in.txt"
    src.write_text("a fine film .\n")
    monkeypatch.setattr(cpu, "flags", lambda: AVX2_ONLY)
    monkeypatch.setattr(precision, "_warned_bf16", False)
    before = warnings.formatwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # Python's own showwarning, as outside pytest (which records warnings instead of printing them)
        warnings.showwarning = lambda m, c, f, n, file=None, line=None: sys.stderr.write(warnings.formatwarning(m, c, f, n, line))
        assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src), "--precision", "bf16"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "bf16" in line or ".py:" in line]
    assert len(err) == 1 and err[0].startswith("warning: precision='bf16' on a CPU without native bf16"), err
    assert warnings.formatwarning is before


def test_an_unknown_precision_is_refused_before_anything_is_read(tmp_path):
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        zoo.load(tmp_path / "nothing-here", precision="fp8")


onnx_only = pytest.mark.skipif(__import__("importlib").util.find_spec("onnxruntime") is None,
                               reason="int8 runs in onnxruntime: pip install -e '.[onnx]'")


@onnx_only
@pytest.mark.parametrize("name, recurrent", [("ner-bilstm", "LSTM"), ("sentiment-lstm", "LSTM"), ("ner-rnn", "RNN")])
def test_int8_quantizes_the_matmuls_and_the_lstm_node_but_not_the_embedding_tables(models, name, recurrent, tmp_path):
    import onnx
    folder = export.to_onnx(zoo.load(models / name), tmp_path / name)
    kinds = {}
    for lstm in (True, False):
        onnx_run.quantize_int8(folder / "model.onnx", tmp_path / f"int8-{lstm}.onnx", lstm=lstm)
        kinds[lstm] = [n.op_type for n in onnx.load(str(tmp_path / f"int8-{lstm}.onnx")).graph.node]
        assert "MatMulInteger" in kinds[lstm] and "Gather" in kinds[lstm]
        assert "DequantizeLinear" not in kinds[lstm]  # no int8 table: a Gather's output would be dequantized
    if recurrent == "LSTM":  # the default quantizes it; onnxruntime has no int8 RNN node
        assert "DynamicQuantizeLSTM" in kinds[True] and "LSTM" not in kinds[True] and "LSTM" in kinds[False]
    else:
        assert "RNN" in kinds[True]


@onnx_only
@pytest.mark.parametrize("name", ["ner-rnn", "ner-bilstm", "sentiment-lstm", "caption-lstm"])
def test_a_quantized_tiny_model_loads_and_predicts(models, name):
    fp32, int8 = zoo.load(models / name), zoo.load(models / name, precision="int8")
    assert (int8.precision, int8.runtime) == ("int8", "onnxruntime")
    if name.startswith("caption"):
        import numpy as np
        feats = list(np.random.default_rng(0).normal(0, 1, (3, 1280)).astype(np.float32))
        for got, want in zip(int8.predict_batch(feats), fp32.predict_batch(feats)):
            assert isinstance(got[0]["caption"], str) and got[0]["score"] == pytest.approx(want[0]["score"], abs=0.5)
        return
    got, want = int8.predict_batch(TEXTS, scores=True), fp32.predict_batch(TEXTS, scores=True)
    if name.startswith("ner"):
        for g, w in zip(got, want):
            assert len(g["tokens"]) == len(w["tokens"]) and all(t["tag"] in int8.labels for t in g["tokens"])
            for gt, wt in zip(g["tokens"], w["tokens"]):
                assert list(gt["scores"].values()) == pytest.approx(list(wt["scores"].values()), abs=0.1)
    else:
        assert [g["positive"] for g in got] == pytest.approx([w["positive"] for w in want], abs=0.05)


@onnx_only
def test_int8_weights_get_7_bits_where_the_cpu_lacks_vnni(models, tmp_path, monkeypatch):
    for flags, reduced in ((AVX2_ONLY, True), (SAPPHIRE_RAPIDS, False)):
        monkeypatch.setattr(cpu, "flags", lambda: flags)
        out = export.to_onnx(zoo.load(models / "ner-lstm"), tmp_path / f"int8-{reduced}", precision="int8")
        assert json.loads((out / "config.json").read_text())["onnx"]["reduce_range"] is reduced
    p = zoo.load(tmp_path / "int8-False", precision="int8")
    assert (p.precision, p.runtime) == ("int8", "onnxruntime") and p.predict(TEXTS[0])["tokens"]
    as_exported = zoo.load(tmp_path / "int8-False")  # no precision asked: the export's own
    assert (as_exported.precision, as_exported.runtime) == ("int8", "onnxruntime")
    with pytest.raises(ValueError, match="int8 network"):
        zoo.load(tmp_path / "int8-False", precision="fp32")
    monkeypatch.setattr(cpu, "flags", lambda: AVX2_ONLY)  # 8-bit weights on a CPU where they can saturate
    with pytest.warns(RuntimeWarning, match="saturate"):
        zoo.load(tmp_path / "int8-False", precision="int8")


@onnx_only
def test_precisions_that_a_runtime_cannot_take_are_clear_errors(models, tmp_path, capsys):
    out = export.to_onnx(zoo.load(models / "sentiment-rnn"), tmp_path / "s")
    with pytest.raises(ValueError, match="bf16 runs on the torch runtime"):
        zoo.load(out, precision="bf16")
    assert main(["predict", str(out), "--input", "-", "--precision", "bf16"]) == 2
    assert "bf16 runs on the torch runtime" in capsys.readouterr().err


def test_evaluate_takes_precision_and_reports_it(models, conll_sample, capsys, monkeypatch):
    monkeypatch.setattr(cpu, "flags", lambda: SAPPHIRE_RAPIDS)  # no warning on any CPU (its own test is above)
    assert main(["evaluate", str(models / "ner-lstm"), "--data", str(conll_sample), "--split", "test",
                 "--precision", "bf16"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["precision"], line["runtime"]) == ("bf16", "torch") and "f1" in line["metrics"]


@onnx_only
def test_int8_falls_back_to_the_matmuls_where_onnxruntimes_pre_processing_fails(models, tmp_path, monkeypatch):
    import onnx
    from onnxruntime.quantization import shape_inference

    def broken(*a, **k):
        raise RuntimeError("cannot fold this graph")
    monkeypatch.setattr(shape_inference, "quant_pre_process", broken)
    folder = export.to_onnx(zoo.load(models / "ner-lstm"), tmp_path / "ner-lstm")
    with pytest.warns(RuntimeWarning, match="pre-processing failed.*MatMuls only"):
        onnx_run.quantize_int8(folder / "model.onnx", tmp_path / "int8.onnx")
    kinds = [n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node]
    assert "MatMulInteger" in kinds and "LSTM" in kinds
