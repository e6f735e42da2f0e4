"""The app as an API: every api_name through gradio_client and through gradio's raw HTTP route, and clear
messages for calls that send the wrong kind of value. Served in-process with the tiny test models."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from test_app import NER_TEXT, server, tiny_models  # noqa: E402,F401  (the fixtures, shared)


def test_gradio_client_reaches_every_api_name(server):
    from gradio_client import Client
    client = Client(server, verbose=False)
    out = client.predict("a witty movie", api_name="/sentiment")
    assert len(out) == 9 and "sentiment-bilstm" in out[5]
    # the two by-step charts (words on x; word numbers on x, for texts of more than 40 words): one shown
    words_chart, numbers_chart = out[6], out[7]
    assert words_chart["visible"] and not numbers_chart["visible"] and numbers_chart["value"] is None
    table = words_chart["value"]
    assert table["columns"] == ["word", "P(positive)", "model", "text"] and len(table["data"]) == 3 * 3  # 3 words, 3 models
    out = client.predict("fine " * 45, api_name="/sentiment")
    assert not out[6]["visible"] and out[7]["visible"] and out[7]["value"]["columns"][0] == "word number"
    assert len(out[7]["value"]["data"]) == 45 * 3
    out = client.predict(NER_TEXT, api_name="/ner")
    assert len(out) == 7 and "ner-rnn" in out[1]
    out = client.predict(NER_TEXT, "ner-lstm", "forward", api_name="/inside")
    assert all(o["type"] == "matplotlib" for o in out[:6])
    assert client.predict("not bad at all", "sst2", api_name="/memory")[0]["type"] == "matplotlib"
    assert client.predict("not bad at all", "imdb", api_name="/lifetime")["type"] == "matplotlib"
    chart, table = client.predict("imdb", api_name="/distance_probe")
    assert chart["type"] == "matplotlib" and "imdb-bilstm" in table
    out = client.predict("a witty movie", "imdb", api_name="/sentiment")
    assert len(out) == 9 and "imdb-bilstm" in out[5]
    assert "forget=0" in client.predict("a witty movie", "sentiment-lstm", api_name="/what_if")
    chart, notice = client.predict("a witty movie", "ner-bilstm", api_name="/cell_size")
    assert chart["type"] == "matplotlib" and notice == ""
    assert "ner-lstm" in client.predict(NER_TEXT, api_name="/right_context")
    assert "np.tanh" in client.predict("a witty movie", "sentiment-rnn", api_name="/note_loop")


def test_the_why_views_refuse_models_without_what_they_show(server):
    from gradio_client import Client
    client = Client(server, verbose=False)
    for api, args in (("/what_if", ("a witty movie", "sentiment-rnn")), ("/cell_size", ("a film", "ner-rnn")),
                      ("/note_loop", ("a witty movie", "sentiment-lstm")), ("/what_if", ("a film", ["x"]))):
        with pytest.raises(Exception, match="Unknown model"):
            client.predict(*args, api_name=api)
    assert "**42**" in client.predict(2, 10, 3, "rnn", False, False, api_name="/shapes")


@pytest.mark.parametrize("api", ["/sentiment", "/ner"])
@pytest.mark.parametrize("bad, kind", [(42, "int"), (["Peter"], "list"), ({"text": "Peter"}, "dict"), (True, "bool")])
def test_api_calls_with_a_non_string_get_a_clear_message_not_a_prediction(server, api, bad, kind):
    from gradio_client import Client
    with pytest.raises(Exception, match=f"Expected text \\(a string\\), got {kind}"):
        Client(server, verbose=False).predict(bad, api_name=api)


def test_inside_and_memory_check_the_choices_an_api_call_sends(server):
    from gradio_client import Client
    client = Client(server, verbose=False)
    with pytest.raises(Exception, match="Unknown model"):
        client.predict(NER_TEXT, 42, "forward", api_name="/inside")
    with pytest.raises(Exception, match="Unknown model"):
        client.predict("not bad at all", ["sentiment"], api_name="/memory")
    for bad in (["backward"], "sideways", 1):
        with pytest.raises(Exception, match="direction must be 'forward' or 'backward'"):
            client.predict(NER_TEXT, "ner-lstm", bad, api_name="/inside")
    out = client.predict(NER_TEXT, "ner-lstm", "backward", api_name="/inside")  # a one-way model: forward, said so
    assert len(out) == 7 and out[0]["type"] == "matplotlib" and "one direction only" in out[6]


def test_raw_http_api_answers_like_gradio_client(server):
    """The bench's raw calls (the documented /gradio_api/call route, as README users would call it)."""
    import httpx
    from gradio_client import Client
    sys.path.insert(0, str(ROOT / "bench"))
    from app_latency import raw_call
    with httpx.Client(timeout=60) as http:
        for session in ("one-client", None):
            raw = raw_call(http, server, "/ner", (NER_TEXT,), session)()
            client = Client(server, verbose=False).predict(NER_TEXT, api_name="/ner")
            assert len(raw) == len(client) == 7 and raw[0::2] == list(client[0::2])  # the cards differ in their times
        with pytest.raises(RuntimeError, match="Expected text"):
            raw_call(http, server, "/sentiment", (42, "sst2"), "one-client")()


def test_api_errors_come_back_as_messages(server):
    from gradio_client import Client
    client = Client(server, verbose=False)
    with pytest.raises(Exception, match="type some text"):
        client.predict("   ", api_name="/ner")
    with pytest.raises(Exception, match="Unknown model|not in the list|choices"):
        client.predict(NER_TEXT, "no-such-model", "forward", api_name="/inside")
    with pytest.raises(Exception, match="maximum|whole number"):
        client.predict(10**9, 10, 3, "rnn", False, False, api_name="/shapes")


def test_bad_input_is_an_answer_not_a_traceback_in_the_server_log(server, capfd):
    """Each empty text wrote gradio's ~30-line traceback of the app's own message to the log, 73 in one trial,
    where a real fault's would be lost; a fault that is no bad input still prints its traceback."""
    from gradio_client import Client
    client = Client(server, verbose=False)
    capfd.readouterr()
    for api, args in (("/sentiment", ("   ",)), ("/ner", ("",)), ("/what_if", ("a film", "no-such-model"))):
        with pytest.raises(Exception):
            client.predict(*args, api_name=api)
    assert "Traceback" not in capfd.readouterr().err
