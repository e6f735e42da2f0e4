"""The benchmarks' own kernels compute what they are compared with, so their timings compare like with like."""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import handwritten_lstm  # noqa: E402


def test_handwritten_lstm_matches_torch_lstm_in_outputs_and_every_gradient():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4)
    x = torch.randn(7, 3, 5, requires_grad=True)  # (T, B, I)
    diff = handwritten_lstm.max_differences(lstm, x)
    assert diff["output"] < 1e-6 and diff["gradients"] < 1e-5


def test_handwritten_lstm_differs_when_its_gate_order_is_wrong():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4)
    x = torch.randn(7, 3, 5)
    wrong = handwritten_lstm.HandwrittenLSTM.apply(x, lstm.weight_ih_l0, lstm.weight_hh_l0,
                                                   lstm.bias_ih_l0 + lstm.bias_hh_l0)  # i, f, g, o unreordered
    assert (wrong - lstm(x)[0]).abs().max() > 1e-3  # so the comparison above can fail


def test_handwritten_lstm_benchmark_prints_one_json_line_per_shape(capsys):
    assert handwritten_lstm.main(["--shapes", "2x3,4x2", "--input", "5", "--hidden", "4", "--rounds", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["batch"], r["steps"]) for r in rows] == [(2, 3), (4, 2)]
    assert all(r["fused_ms"] > 0 and r["handwritten_ms"] > 0 for r in rows)


def test_peers_serving_table_puts_each_runtime_beside_its_peer_as_a_speed_ratio(capsys):
    """bench/peers_serving.py's table: inputs/s from median seconds, and each seqzoo runtime's ratio against the
    peer of the same architecture (peer seconds over seqzoo seconds: above 1 means seqzoo is faster)."""
    import peers_serving
    m1 = {"ner-lstm fp32": 2.0, "ner-lstm int8": 0.5, "flair lstm": 1.0}   # 100 inputs at batch 1
    m64 = {"ner-lstm fp32": 1.0, "ner-lstm int8": 4.0, "flair lstm": 2.0}  # 1,000 at batch 64
    peers_serving.report("t", {"lstm": (m1, m64)}, 100, 1000, {"ner-lstm fp32": 88.1, "ner-lstm int8": 88.0},
                         "F1", "flair")
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| ner-lstm")]
    assert [[c.strip() for c in r] for r in rows] == [
        ["ner-lstm", "fp32", "50", "0.50x", "1,000", "2.00x", "88.10"],
        ["ner-lstm", "int8", "200", "2.00x", "250", "0.50x", "88.00"]]


def test_denormals_benchmark_prints_one_row_per_starting_weight_recipe(capsys):
    import denormals
    from zoo.encoder import INITS
    assert denormals.main(["--batch", "2", "--steps-len", "5"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "ms/step" not in line]
    assert [r.split("|")[1].strip() for r in rows] == list(INITS)
    assert float(torch.tensor([1e-39]) * 1.0) > 0  # it leaves the process as it found it


def test_rnn_steps_benchmark_times_the_tanh_and_sigmoid_forms_of_the_same_recurrence():
    """bench/rnn_steps.py: its tanh loop and sigmoid loop (with the sigmoid form's scaled weights) reach the same
    states, and the bundled model it times in each form takes that form."""
    import rnn_steps
    torch.manual_seed(0)
    x, w = torch.randn(9, 3, 5), torch.randn(5, 5) * 0.3
    h, u = x.clone(), 2 * x - 2 * w.sum(0)  # h w = 2 g w - 1 w: the shift, from step 1 on
    u[0] = 2 * x[0]  # step 0 starts from h = 0
    rnn_steps.tanh_steps(h, w)
    rnn_steps.sigmoid_steps(u, 4 * w)
    torch.testing.assert_close(h, 2 * u - 1)  # every step's state
    for form in ("tanh", "sigmoid"):
        p = rnn_steps.in_form("sentiment-rnn", form)
        assert p.model.encoder.step_form == form
        p.predict_batch(["a fine film", "dull"])
        assert list(p.model.encoder.__dict__["_steps_copies"]) == [(0, form)]  # the route ran in that form


def test_step_multiply_benchmark_written_out_lstm_steps_reach_torch_lstms_final_state():
    """bench/step_multiply.py asserts its written-out LSTM (one sigmoid for all four gates, the cell input's rows
    doubled) against nn.LSTM before timing it, so the two compared compute the same thing."""
    import step_multiply
    ms = step_multiply.lstm_layer(1, B=3, T=5, I=6, H=4, V=20)
    assert set(ms) == {"nn.LSTM (padded)", "written-out steps"} and all(v > 0 for v in ms.values())
    us = step_multiply.multiplies(4, 6, 4, 1)
    assert us["float32 mm"] > 0 and len(us) >= 1
