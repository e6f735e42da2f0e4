"""The shared encoder runs every architecture; the checkpoint format refuses what does not fit."""
import json

import pytest
import torch
from safetensors.torch import save_file

from zoo import checkpoint, cpu
from zoo.encoder import ARCHS, RecurrentEncoder


@pytest.fixture(params=cpu.STEP_FORMS)
def step_form(request, monkeypatch):
    """Each form of the vanilla RNN's steps route, whichever this CPU takes (zoo.cpu.rnn_step_form)."""
    monkeypatch.setattr(cpu, "rnn_step_form", lambda: request.param)
    return request.param


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_gives_the_right_shapes_and_no_nan(arch):
    torch.manual_seed(0)
    enc = RecurrentEncoder(arch, input_size=6, hidden_size=5)
    x, lengths = torch.randn(3, 7, 6), torch.tensor([7, 2, 5])
    out, final = enc(x, lengths)
    D = 10 if arch == "bilstm" else 5
    assert out.shape == (3, 7, D) and final.shape == (3, D) and enc.output_size == D
    assert torch.isfinite(out).all() and torch.isfinite(final).all()
    assert out[1, 2:].abs().sum() == 0  # nothing leaks into padding
    # final = the state after each sequence's last real word (forward part)
    torch.testing.assert_close(final[1, :5], out[1, 1, :5])
    if arch == "bilstm":  # the backward direction ends at the first word
        torch.testing.assert_close(final[1, 5:], out[1, 0, 5:])


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_the_padded_training_route_equals_the_packed_route_in_values_and_gradients(arch, layers):
    torch.manual_seed(0)
    enc = RecurrentEncoder(arch, input_size=6, hidden_size=5, num_layers=layers).train()
    x, lengths = torch.randn(4, 9, 6, requires_grad=True), torch.tensor([9, 3, 6, 1])
    results = {}
    for route in ("packed", "padded"):
        out, final = enc(x, lengths, route=route)
        loss = out.square().sum() + final.sin().sum()
        results[route] = (out, final, torch.autograd.grad(loss, [x, *enc.parameters()]))
    (o1, f1, g1), (o2, f2, g2) = results["packed"], results["padded"]
    torch.testing.assert_close(o1, o2)
    torch.testing.assert_close(f1, f2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("layers", [1, 2])
def test_the_rnn_steps_inference_route_equals_the_packed_route(layers, step_form):
    torch.manual_seed(0)
    enc = RecurrentEncoder("rnn", input_size=6, hidden_size=5, num_layers=layers).eval()
    assert enc.step_form == step_form
    for x, lengths in [(torch.randn(4, 9, 6), torch.tensor([9, 3, 6, 1])), (torch.randn(1, 7, 6), torch.tensor([7])),
                       (torch.randn(6, 11, 6), torch.tensor([9, 9, 6, 3, 3, 1]))]:  # longest first: live rows only
        with torch.no_grad():
            got, want = enc(x, lengths, route="steps"), enc(x, lengths, route="packed")
            final_alone = enc(x, lengths, route="steps", outputs=False)  # longest first: read at segment ends
        torch.testing.assert_close(got[0], want[0])
        torch.testing.assert_close(got[1], want[1])
        torch.testing.assert_close(final_alone[1], want[1])
    with pytest.raises(ValueError, match="inference"):
        enc(x, lengths, route="steps")  # gradients on: not this route


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_a_reader_of_the_final_state_alone_gets_the_same_final_state_on_every_route(arch, layers, step_form):
    """outputs=False (many-to-one) skips zeroing and unpacking the outputs: None for them, the same final state
    (and, training, the same gradients) on every route the architecture has."""
    torch.manual_seed(0)
    enc = RecurrentEncoder(arch, input_size=6, hidden_size=5, num_layers=layers)
    x, lengths = torch.randn(4, 9, 6, requires_grad=True), torch.tensor([9, 3, 6, 1])
    for route in ("packed", "padded"):
        _, want = enc.train()(x, lengths, route=route)
        out, got = enc(x, lengths, route=route, outputs=False)
        assert out is None
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(torch.autograd.grad(got.sin().sum(), x)[0], torch.autograd.grad(want.sin().sum(), x)[0])
    enc.eval()
    with torch.no_grad():
        for route in ("packed", "padded") + (("steps",) if arch == "rnn" else ()):
            for xs, ls in ((x, lengths), (x[:1], lengths[:1])):
                out, got = enc(xs, ls, route=route, outputs=False)
                assert out is None
                torch.testing.assert_close(got, enc(xs, ls, route=route)[1])
        empty = torch.tensor([9, 0, 6, 1])  # a sequence without words: its final state is 0 either way
        for route in ("padded",) + (("steps",) if arch == "rnn" else ()):
            _, got = enc(x, empty, route=route, outputs=False)
            torch.testing.assert_close(got, enc(x, empty, route=route)[1])
            assert got[1].abs().sum() == 0


@pytest.mark.parametrize("arch, inference", [("lstm", "padded"), ("bilstm", "padded"), ("rnn", "steps")])
def test_the_cpu_runs_batches_padded_or_on_the_rnn_steps_route_and_one_sentence_packed(monkeypatch, arch, inference):
    enc = RecurrentEncoder(arch, 3, 4)
    taken = []
    for route in ("padded", "packed", "rnn_steps"):
        monkeypatch.setattr(enc, f"_{route}", lambda *a, route=route: taken.append(route.replace("rnn_", "")) or (None, None))
    x, lengths = torch.randn(2, 3, 3), torch.tensor([3, 2])
    enc(x, lengths)  # a new module trains
    enc.eval()
    with torch.no_grad():
        enc(x, lengths)
        enc(x[:1], lengths[:1])  # one input: torch's own call is faster
        with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast covers torch's kernels, not the steps route
            enc(x, lengths)
        enc.train()(x, lengths)  # training mode without gradients: dropout between layers, as padded applies it
    assert taken == ["padded", inference, "packed", "padded", "padded"]


def test_the_rnn_step_form_follows_torchs_kernel_level(monkeypatch):
    """tanh where torch runs AVX-512 kernels (its tanh is faster than its sigmoid there), the sigmoid form
    elsewhere (AVX2's tanh costs 3x its sigmoid): bench/rnn_steps.py measures both on any CPU."""
    for level, form in [("AVX512", "tanh"), ("AVX2", "sigmoid"), ("DEFAULT", "sigmoid")]:
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda level=level: level)
        assert cpu.rnn_step_form() == form and RecurrentEncoder("rnn", 3, 4).step_form == form


def test_switching_the_step_form_remakes_the_kept_weights_and_tables():
    from zoo.embedding import EmbeddingConfig, TokenEmbedder
    torch.manual_seed(0)
    emb = TokenEmbedder(EmbeddingConfig(vocab_size=30, word_dim=4)).eval()
    enc = RecurrentEncoder("rnn", 4, 6).eval()
    batch, lengths = {"words": torch.tensor([[5, 7, 9, 2], [3, 8, 0, 0]])}, torch.tensor([4, 2])
    with torch.no_grad():
        want = enc(emb(batch), lengths, route="packed")[1]
        for form in cpu.STEP_FORMS * 2:  # each form after the other's weights and tables were kept
            enc.step_form = form
            torch.testing.assert_close(enc.encode(emb, batch, lengths, outputs=False)[1], want)


def test_an_encoder_that_kept_weight_results_can_still_be_deep_copied(step_form):
    """Some kept copies carry autograd history back to the weights, so a deepcopy of a model that had run the
    steps route failed ("Only Tensors created explicitly by the user ... support the deepcopy protocol"): a
    copy now leaves the kept results behind and makes its own."""
    import copy
    enc = RecurrentEncoder("rnn", 4, 6).eval()
    x, lengths = torch.randn(2, 3, 4), torch.tensor([3, 2])
    with torch.no_grad():
        want = enc(x, lengths, route="steps")[1]
    assert "_steps_copies" in enc.__dict__
    twin = copy.deepcopy(enc)
    assert "_steps_copies" not in twin.__dict__ and "_steps_copies" in enc.__dict__
    with torch.no_grad():
        torch.testing.assert_close(twin(x, lengths, route="steps")[1], want)


def test_architectures_differ_only_in_the_recurrent_layer():
    kinds = {arch: type(RecurrentEncoder(arch, 4, 4).rnn).__name__ for arch in ARCHS}
    assert kinds == {"rnn": "RNN", "lstm": "LSTM", "bilstm": "LSTM"}
    assert RecurrentEncoder("bilstm", 4, 4).rnn.bidirectional and not RecurrentEncoder("lstm", 4, 4).rnn.bidirectional


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown arch"):
        RecurrentEncoder("gru", 4, 4)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = RecurrentEncoder("lstm", 3, 4)
        self.head = torch.nn.Linear(4, 2)


def test_save_then_load_round_trips_in_float16(tmp_path):
    torch.manual_seed(0)
    m = Tiny()
    checkpoint.save(tmp_path / "c", m, {"task": "ner", "arch": "lstm"})
    cfg = checkpoint.read_config(tmp_path / "c")
    assert cfg["dtype"] == "float16" and cfg["format"] == checkpoint.FORMAT and "torch" in cfg["versions"]
    m2 = checkpoint.load_weights(tmp_path / "c", Tiny())
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        torch.testing.assert_close(a.half().float(), b, rtol=0, atol=0)
        assert b.dtype == torch.float32


def test_saving_again_replaces_the_folder_without_leftovers(tmp_path):
    checkpoint.save(tmp_path / "c", Tiny(), {"task": "ner"})
    checkpoint.save(tmp_path / "c", Tiny(), {"task": "ner"}, files={"tokenizer.json": "{}"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_loading_with_a_missing_tensor_is_an_error(tmp_path):
    m = Tiny()
    checkpoint.save(tmp_path / "c", m, {"task": "ner"})
    state = {k: v for k, v in m.state_dict().items() if k != "head.bias"}
    save_file(state, str(tmp_path / "c" / "model.safetensors"))
    with pytest.raises(checkpoint.CheckpointError, match="missing: head.bias"):
        checkpoint.load_weights(tmp_path / "c", Tiny())


def test_loading_with_an_unexpected_or_misshaped_tensor_is_an_error(tmp_path):
    m = Tiny()
    checkpoint.save(tmp_path / "c", m, {"task": "ner"})
    state = dict(m.state_dict(), extra=torch.zeros(1))
    state["head.weight"] = torch.zeros(3, 4)
    save_file(state, str(tmp_path / "c" / "model.safetensors"))
    with pytest.raises(checkpoint.CheckpointError, match="unexpected: extra.*wrong shape: head.weight"):
        checkpoint.load_weights(tmp_path / "c", Tiny())


def test_a_pickle_in_place_of_safetensors_is_refused(tmp_path):
    import pickle
    checkpoint.save(tmp_path / "c", Tiny(), {"task": "ner"})
    (tmp_path / "c" / "model.safetensors").write_bytes(pickle.dumps({"head.weight": [1, 2]}))
    with pytest.raises(checkpoint.CheckpointError, match="not a readable safetensors file"):
        checkpoint.load_weights(tmp_path / "c", Tiny())


@pytest.mark.parametrize("content,match", [("{not json", "not valid JSON"), (json.dumps({"task": "ner"}), "not a seqzoo/1"),
                                           (json.dumps([1, 2]), "not a seqzoo/1")])
def test_a_broken_config_is_refused_with_the_file_named(tmp_path, content, match):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(checkpoint.CheckpointError, match=match) as e:
        checkpoint.read_config(tmp_path)
    assert "config.json" in str(e.value)


def test_dropout_zeroes_about_p_of_the_values_keeps_the_mean_and_is_identity_in_eval():
    from zoo.embedding import Dropout
    torch.manual_seed(0)
    drop, x = Dropout(0.3), torch.ones(200_000)
    y = drop.train()(x)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01
    assert abs(y.mean().item() - 1.0) < 0.01  # inverted dropout: survivors scaled by 1 / (1 - p)
    assert torch.equal(drop.eval()(x), x)
    with pytest.raises(ValueError):
        Dropout(1.0)


@pytest.mark.parametrize("arch", ARCHS)
def test_recurrent_weights_start_as_keras_starts_them(arch):
    torch.manual_seed(0)
    H = 6
    enc = RecurrentEncoder(arch, input_size=4, hidden_size=H, num_layers=2)
    for name, p in enc.rnn.named_parameters():
        if name.startswith("weight_hh"):  # each gate's (H, H) block orthogonal
            for gate in p.detach().split(H):
                torch.testing.assert_close(gate @ gate.T, torch.eye(H), atol=1e-5, rtol=0)
        elif name.startswith("weight_ih"):  # Glorot uniform bound sqrt(6 / (fan_in + fan_out))
            assert p.abs().max() <= (6 / sum(p.shape)) ** 0.5
        elif name.startswith("bias_ih") and arch != "rnn":  # forget gate opens at 1, the rest at 0
            assert p[H:2 * H].eq(1).all() and p[:H].eq(0).all() and p[2 * H:].eq(0).all()
        else:
            assert p.eq(0).all(), name


def test_word_vectors_start_small_with_a_zero_padding_row():
    from zoo.embedding import PAD_ID, EmbeddingConfig, TokenEmbedder
    emb = TokenEmbedder(EmbeddingConfig(vocab_size=50, word_dim=8)).words.weight
    assert emb[PAD_ID].eq(0).all() and emb.abs().max() <= 0.05 and emb.abs().max() > 0.02


def test_torch_init_keeps_torchs_own_starting_weights_and_an_unknown_init_is_refused():
    torch.manual_seed(0)
    enc = RecurrentEncoder("lstm", input_size=4, hidden_size=6, init="torch")
    bound = 6 ** -0.5  # torch: uniform(-1/sqrt(H), 1/sqrt(H)) for every weight and bias
    assert all(p.abs().max() <= bound and p.abs().max() > 0 for p in enc.rnn.parameters())
    with pytest.raises(ValueError, match="unknown init"):
        RecurrentEncoder("lstm", 4, 6, init="glorot")


@pytest.mark.parametrize("width", [3, 5])
def test_inference_char_features_by_table_lookup_equal_the_convolution(width):
    from zoo.embedding import PAD_ID, EmbeddingConfig, TokenEmbedder
    torch.manual_seed(0)
    emb = TokenEmbedder(EmbeddingConfig(vocab_size=30, word_dim=4, n_chars=12, char_dim=6, char_filters=7,
                                        char_width=width, casing_dim=2))
    chars = torch.randint(1, 12, (2, 5, 8))  # (B, T, W); words of 1 to 8 characters, then padding tokens
    for n, (b, t) in zip([1, 3, 8, 2, 5], [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]):
        chars[b, t, n:] = PAD_ID
    chars[0, 3:], chars[1, 2:] = PAD_ID, PAD_ID
    words = (chars[..., 0] != PAD_ID).long() * 7
    batch = {"words": words, "chars": chars, "casing": words.clamp(max=1)}
    emb.eval()
    lookup = emb(batch)  # (B, T, E)
    conv = emb.char_cnn(emb.chars(chars.view(10, 8)).transpose(1, 2))  # (B*T, F, W): the plain convolution
    expected = conv.masked_fill((chars.view(10, 1, 8) == PAD_ID), float("-inf")).amax(dim=2).view(2, 5, 7)
    real = words != PAD_ID
    assert torch.allclose(lookup[..., 4:11][real], expected[real], atol=1e-5)
    assert lookup[..., 4:11][~real].eq(0).all()  # padding tokens read 0
    emb.train()  # and training takes the convolution itself, with its gradient
    emb.dropout.p = 0.0
    assert torch.allclose(emb(batch)[..., 4:11][real], expected[real], atol=1e-5)


def _token_batch(B=3, T=6, W=5, vocab=40, seed=0):
    """A padded NER-like batch: words, characters and casing, sequences of lengths T, 2 and 4."""
    from zoo.embedding import PAD_ID
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([T, 2, 4][:B])
    words = torch.randint(2, vocab, (B, T), generator=g)
    chars = torch.randint(1, 12, (B, T, W), generator=g)
    chars[..., 3:] = PAD_ID  # words of 3 characters
    for b, n in enumerate(lengths):
        words[b, n:], chars[b, n:] = PAD_ID, PAD_ID
    return {"words": words, "chars": chars, "casing": (words != PAD_ID).long() * 4, "lengths": lengths}


def test_the_embedders_projected_tables_equal_projecting_its_output_and_follow_each_weight_change():
    from zoo.embedding import EmbeddingConfig, TokenEmbedder
    torch.manual_seed(0)
    emb = TokenEmbedder(EmbeddingConfig(vocab_size=40, word_dim=4, n_chars=12, char_dim=6, char_filters=7,
                                        casing_dim=2)).eval()
    W, b1, b2 = torch.randn(5, 13), torch.randn(5), torch.randn(5)
    batch = _token_batch()
    with torch.no_grad():
        want = lambda: (emb(batch) @ W.t() + b1 + b2).transpose(0, 1)  # noqa: E731  (T, B, H)
        for changed in [None, None, emb.words.weight, emb.casing.weight, W, b1, b2]:  # fresh, cached, then one each
            if changed is not None:
                changed.add_(0.5)  # in place, as an optimizer step or a loaded state: that table is rebuilt
            torch.testing.assert_close(emb.project(batch, W, b1, b2), want())
        torch.testing.assert_close(emb.project(batch, W), (emb(batch) @ W.t()).transpose(0, 1))  # no bias
    with pytest.raises(ValueError, match="inference"):
        emb.train().project(batch, W, b1, b2)


@pytest.mark.parametrize("arch, layers", [("rnn", 1), ("rnn", 2), ("lstm", 1), ("bilstm", 1)])
def test_encode_from_the_embedder_equals_the_encoder_on_the_embedders_output(arch, layers, step_form):
    from zoo.embedding import EmbeddingConfig, TokenEmbedder
    torch.manual_seed(0)
    emb = TokenEmbedder(EmbeddingConfig(vocab_size=40, word_dim=4, n_chars=12, char_dim=6, char_filters=7,
                                        casing_dim=2)).eval()
    enc = RecurrentEncoder(arch, emb.cfg.output_size, 5, num_layers=layers).eval()
    batch = _token_batch()
    with torch.no_grad():
        got = enc.encode(emb, batch, batch["lengths"])  # the vanilla RNN: the steps route, from looked-up tables
        want = enc(emb(batch), batch["lengths"], route="packed")
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])


def test_a_layer_quantized_by_torch_ao_still_runs_batches_through_its_own_call():
    import warnings
    torch.manual_seed(0)
    enc = RecurrentEncoder("bilstm", 6, 5).eval()
    x, lengths = torch.randn(3, 7, 6), torch.tensor([7, 2, 5])
    with torch.no_grad():
        want = enc(x, lengths)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its deprecation notice
            enc.rnn = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(enc.rnn), {torch.nn.LSTM})[0]
        got = enc(x, lengths)  # no weight_ih_l0 to run the padded route with: packed, the layer's own call
    assert torch.allclose(got[0], want[0], atol=0.05) and torch.allclose(got[1], want[1], atol=0.05)
