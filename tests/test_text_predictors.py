"""The one interface of the text predictors (NER and sentiment): words(text), encode(text) -> (words, batch),
predict(text, scores=...), on tiny checkpoints in the real format (tests/app_models.py)."""
import pytest
import torch

import zoo
from app_models import write_models
from tasks.text import check_text


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_models(tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("name", ["ner-rnn", "ner-bilstm", "sentiment-lstm", "sentiment-bilstm"])
def test_encode_gives_the_words_and_the_batch_that_predict_reads(tiny, name):
    p = zoo.load(tiny / name)
    words, batch = p.encode("Peter visited Seoul, didn't he?")
    assert words == p.words("Peter visited Seoul, didn't he?") == ["Peter", "visited", "Seoul", ",", "did", "n't", "he", "?"]
    assert batch["lengths"].tolist() == [len(words)] and batch["words"].shape == (1, len(words))
    with pytest.raises(ValueError, match="no words"):
        p.encode("   ")
    with pytest.raises(TypeError):
        p.encode(42)


def test_ner_scores_are_each_words_tag_probabilities_from_the_same_pass(tiny):
    p = zoo.load(tiny / "ner-lstm")
    plain, scored = p.predict("Peter visited Seoul ."), p.predict("Peter visited Seoul .", scores=True)
    assert [t["tag"] for t in scored["tokens"]] == [t["tag"] for t in plain["tokens"]]
    _, batch = p.encode("Peter visited Seoul .")
    with torch.no_grad():
        probs = p.model(batch)[0].softmax(-1)
    for t, row in zip(scored["tokens"], probs):
        assert list(t["scores"]) == p.labels and sum(t["scores"].values()) == pytest.approx(1, abs=1e-5)
        assert list(t["scores"].values()) == pytest.approx(row.tolist(), abs=1e-6)
    for e in scored["entities"]:
        assert 0 < e["score"] <= 1


def test_an_entitys_score_is_its_types_probability_whichever_of_b_and_i_the_crf_chose(tiny):
    p = zoo.load(tiny / "ner-lstm")
    toks = p.tokens("South Korean games")
    B, I = p.labels.index("B-MISC"), p.labels.index("I-MISC")
    emissions = torch.full((3, len(p.labels)), -10.0)
    emissions[0, B], emissions[1, I], emissions[1, B], emissions[2, p.labels.index("O")] = 5.0, 5.0, 4.0, 5.0
    r = p._result("South Korean games", toks, [B, B, p.labels.index("O")], emissions, True)  # the CRF: B B O
    (first, second), probs = r["entities"], emissions.softmax(-1)
    assert (first["text"], second["text"]) == ("South", "Korean")
    assert second["score"] == pytest.approx(float(probs[1, B] + probs[1, I]), abs=1e-6) and second["score"] > 0.99
    # the chosen tag's own probability (B-MISC, 0.27 here) would have called a sure MISC word unsure


def test_sentiment_predict_gives_its_label_with_the_probabilities_or_alone(tiny):
    p = zoo.load(tiny / "sentiment-lstm")
    probs = p.predict("not bad at all .")
    assert set(probs) == {"label", "positive", "negative"} and probs["positive"] + probs["negative"] == pytest.approx(1)
    assert probs["label"] == ("positive" if probs["positive"] > 0.5 else "negative")
    assert p.predict("not bad at all .", scores=False) == {"label": probs["label"]}
    assert p.predict_batch(["not bad at all ."]) == [probs]  # the same answer, batched


@pytest.mark.parametrize("text", ["Peter visited Seoul, didn't he?", "Jose\u0301 Zu\u0301n\u0303iga 's U.S. trip cost $1,000 .",
                                  "tab\there\x00and\u200bthere 🙂 ..."," ", "", "서울에 갔다 . It's 12:30 !"])
def test_split_words_gives_exactly_the_tokens_of_tokenize(text):
    from tasks.text import split_words, tokenize
    assert split_words(text) == [t for t, _, _ in tokenize(text)]


def test_split_words_matches_tokenize_on_random_texts_of_tricky_characters():
    """split_words tokenizes whitespace chunks alone and keeps letter-only chunks whole: on texts drawn from
    the characters where the token pattern splits (digits, dots, apostrophes, hyphens, n't, 's, combining
    accents, odd spaces, letters of other scripts), it must give exactly tokenize's tokens."""
    import random

    from tasks.text import split_words, tokenize
    pieces = ["a", "B", "n't", "'s", "'S", "'re", "'", ".", ",", "-", "_", "1", "3.5", "1,000", "U.S.", "e\u0301",
              "\u212b", "서울", "ß", "\u00a0", "\u2003", " ", " ", "\t", "\n", "don", "12:30", "🙂", "é", "x-y"]
    rng = random.Random(0)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert split_words(text) == [t for t, _, _ in tokenize(text)], repr(text)


def test_word_ids_cache_answers_as_the_tokenizer_does_and_stays_bounded(tiny, monkeypatch):
    from zoo.vocab import WordIds
    p = zoo.load(tiny / "sentiment-lstm")
    cached, words = p.vectorize.word_ids, ["Wonderful", "film", "FILM", "zzzunseen", "film"]
    fresh = [cached.vocab.get(cached.normalize(w), 1) for w in words]
    assert cached(words) == cached(words) == fresh  # first call fills the cache, the second reads it
    monkeypatch.setattr(WordIds, "CACHE", 3)
    small = WordIds(cached.tokenizer)
    assert small([f"w{i}" for i in range(10)]) == [1] * 10 and len(small._ids) == 3
    huge = WordIds(cached.tokenizer)
    assert huge(["x" * 100_000]) == [1] and not huge._ids  # a huge word is looked up, not kept


def test_ner_featurizer_keeps_no_huge_word_in_its_cache(tiny):
    p = zoo.load(tiny / "ner-lstm")
    p.predict(["Seoul", "x" * 100_000])
    assert "Seoul" in p.featurize._cache and not any(len(w) > 64 for w in p.featurize._cache)


@pytest.mark.parametrize("tokens, words", [(["Peter", "Blackburn"], ["Peter", "Blackburn"]),
                                           ([" EU", "rejects "], ["EU", "rejects"]), (["a b", "c"], ["a b", "c"]),
                                           (["tab\t", "x\u200b"], ["tab", "x"]), ([], []),
                                           (["Seoul", "12:30", "서울"], ["Seoul", "12:30", "서울"])])
def test_ner_token_lists_give_one_word_per_token_at_its_place_in_the_joined_tokens(tiny, tokens, words):
    """Quick path (printable, unpadded tokens) and the per-token check alike: each token stripped, its offsets
    into " ".join(tokens), so a caller's tags line up with its own tokens."""
    p = zoo.load(tiny / "ner-lstm")
    got = p.tokens(tokens)
    joined = check_text(" ".join(tokens))
    assert [w for w, _, _ in got] == words and all(joined[a:b] == w for w, a, b in got)
    assert len(p.predict(tokens)["tokens"]) == len(tokens)


def test_a_token_lists_entities_are_the_joined_tokens_at_their_offsets(tiny):
    """Padded and zero-width-marked tokens move the offsets; an entity's text is cut where they point."""
    p = zoo.load(tiny / "ner-lstm")
    tokens = [" EU", "rejects ", "German\u200b", "call"]
    result = p.predict(tokens)
    joined = " ".join(tokens)
    assert all(t["text"] == joined[t["start"]:t["end"]] for t in result["tokens"])
    assert all(e["text"] == joined[e["start"]:e["end"]] for e in result["entities"])
    spans = p._result(tokens, p.tokens(tokens), [p.labels.index("B-ORG"), 0, p.labels.index("B-MISC"), 0], None, False)
    assert [e["text"] for e in spans["entities"]] == ["EU", "German"]


@pytest.mark.parametrize("tokens", [["EU", "", "rejects"], [""], ["  "], ["Seoul", "\u00a0"], ["\u200b"]])
def test_a_token_without_a_visible_character_is_an_error_naming_it_not_dropped(tiny, tokens):
    """Dropped, it shifted every later tag against the caller's list (6 tokens in, 4 tags out)."""
    with pytest.raises(ValueError, match=r"token \d+ .* has no visible character"):
        zoo.load(tiny / "ner-lstm").predict(tokens)


def test_token_lists_are_held_to_the_same_character_limit_as_one_text(tiny):
    from tasks.text import MAX_CHARS
    with pytest.raises(ValueError, match="characters joined; the limit is"):
        zoo.load(tiny / "ner-lstm").predict(["x" * 1000] * (MAX_CHARS // 1000 + 1))


@pytest.mark.parametrize("name", ["ner-lstm", "ner-rnn"])
def test_a_word_spelled_like_the_padding_token_is_an_unknown_word_and_still_tagged(tiny, name):
    p = zoo.load(tiny / name)
    assert p.featurize.word_ids.lookup("<pad>") == p.featurize.word_ids(["<PAD>"])[0] == 1  # <unk>, never padding
    for tokens in (["<PAD>"], ["Seoul", "<pad>"], ["<pad>", "Seoul", "<pad>"]):
        alone = p.predict(tokens)
        assert [t["text"] for t in alone["tokens"]] == tokens
        assert p.predict_batch([tokens, ["a", "b", "c", "d"]])[0] == alone  # the same inside a batch
    assert zoo.load(tiny / "sentiment-lstm").vectorize.word_ids(["<pad>", "<PAD>"]) == [1, 1]
