"""What the app says about its own limits and in Korean: notices when a text or a review is cut, word axes
that stay readable, the direction choice of one-way models, Korean cards and errors, and table headers that
are plain text. Tiny untrained checkpoints (tests/app_models.py) stand in for the zoo, as in test_app.py."""
import copy
import sys
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # webapp/ lives at the repo root

from test_app import NER_TEXT, tiny_models  # noqa: E402,F401  (the fixture: the app on tiny models)
from webapp import inside_views, logic, memory_views, plots  # noqa: E402
from webapp.shapes import shapes  # noqa: E402


def test_a_word_count_is_not_claimed_for_a_text_already_cut_to_its_characters():
    _, notice = memory_views.memory("word " * 200_000, "sst2")  # 1 MB: cut to 1,000 characters first
    assert "first 1,000 were used" in notice and f"first {memory_views.MAX_MEMORY_WORDS} words are shown here." in notice
    assert "your text has" not in notice


def test_a_taggers_text_is_cut_and_counted_as_the_tagger_splits_it():
    text = " ".join(["Mr. Smith met J. Adams ."] * 6)  # 36 words as a tagger reads it (48 in the PTB split)
    kept, notices = logic.first_words(text, 25, "en", model="ner-lstm")
    assert kept.endswith("Mr.") and "your text has 36" in notices[0]  # was cut inside "Mr." and counted 48
    kept, _ = logic.first_words(text, 25, "en", model="sentiment-lstm")  # the sentiment models read the PTB split
    assert kept.endswith("Mr")


def test_long_word_axes_label_every_kth_word_so_labels_never_overlap():
    words = [f"w{i}" for i in range(80)]
    fig, _ = memory_views.memory(" ".join(words), "sst2")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(labels) <= plots.MAX_WORD_TICKS and labels[:2] == ["1 w0", "3 w2"]


def test_a_one_way_model_asked_for_its_backward_direction_says_it_has_none():
    *figs, notice = inside_views.inside(NER_TEXT, "ner-lstm", "backward")
    assert figs[0] is not None and "ner-lstm reads in one direction only" in notice
    with pytest.raises(gr.Error, match="direction must be 'forward' or 'backward'"):
        inside_views.inside(NER_TEXT, "ner-bilstm", "sideways")


def test_the_imdb_models_say_when_they_read_only_the_first_words():
    *_, words_chart, numbers_chart, notice = logic.sentiment("movie " * 450, "imdb")
    assert "read the first 400 words; your text has 450" in notice
    # numbers on x past MAX_WORD_TICKS words, in the chart for numbers: the labels stay apart
    assert numbers_chart["visible"] and numbers_chart["value"]["word number"].max() == 400
    assert not words_chart["visible"] and words_chart["value"] is None
    *_, notice = logic.sentiment("movie " * 300, "imdb")
    assert notice == ""
    *_, notice = logic.sentiment("movie " * 1000, "imdb")  # cut to 3,000 characters first: no word count claimed
    assert "read the first 400 words; the rest was not read" in notice and "your text has" not in notice


def test_the_korean_cards_name_the_architecture_metric_and_parameters_in_korean():
    request = SimpleNamespace(headers={"accept-language": "ko-KR,ko"})
    cols = logic.sentiment("a witty movie", "sst2", request)
    assert "바닐라 RNN" in cols[1] and "파라미터 " in cols[1] and "개 · 테스트 정확도" in cols[1]
    assert "vanilla RNN" not in cols[1] and "accuracy" not in cols[1]
    with pytest.raises(gr.Error, match="시점 수 \\(timesteps\\): 1~200") as e:  # the field as its label names it
        shapes(0, 10, 3, "rnn", False, False, request=request)
    assert e.value.title == "오류"  # the toast's title too, not gradio's "Error"
    with pytest.raises(gr.Error, match="입력 크기: 1~1024"):
        shapes(2, 5000, 3, "rnn", False, False, request=request)
    with pytest.raises(gr.Error, match="Timesteps must be a whole number from 1 to 200") as e:
        shapes(0, 10, 3, "rnn", False, False)
    assert "정수" not in str(e.value) and e.value.title == "Error"
    with pytest.raises(gr.Error, match=r"\(got an empty box\)"):  # a cleared number box, not Python's None
        shapes(None, 10, 3, "rnn", False, False)
    with pytest.raises(gr.Error, match=r"\(받은 값: 빈 칸\)"):
        shapes(2, "", 3, "rnn", False, False, request=request)
    with pytest.raises(gr.Error) as e:
        logic.sentiment("   ", "sst2", request)
    assert e.value.title == "오류"


def test_the_memory_tabs_charts_name_the_models_in_korean_on_a_korean_page():
    ko = SimpleNamespace(headers={"accept-language": "ko-KR,ko"})
    text = "a dull start but a moving and funny film in the end"
    legend = lambda fig: [t for ax in fig.axes for t in ax.get_legend_handles_labels()[1]]  # noqa: E731
    assert "바닐라 RNN" in legend(memory_views.memory(text, "sst2", ko)[0])
    assert any("바닐라 RNN" in t for t in legend(memory_views.lifetime(text, "sst2", ko)))
    assert not any("바닐라" in t for t in legend(memory_views.lifetime(text, "sst2")))  # English page: English names


def test_the_what_if_table_says_when_most_words_are_unknown_as_the_pattern_tabs_do():
    from webapp import why_views
    ko = SimpleNamespace(headers={"accept-language": "ko-KR,ko"})
    table = why_views.what_if("정말 재미있는 영화 😀 👍", "sentiment-lstm", ko)
    assert "모델의 어휘" in table and table.index("모델의 어휘") < table.index("|")  # above the table, as elsewhere
    assert "vocabulary" not in why_views.what_if("a witty movie", "sentiment-lstm")  # known to the tiny models too
    assert "모델의 어휘" in inside_views.inside("정말 재미있는 영화 😀 👍", "sentiment-lstm", "forward", ko)[-1]  # the inside tab too
    assert "vocabulary" not in inside_views.inside("a witty movie", "sentiment-lstm")[-1]


def test_the_what_if_view_says_a_text_was_cut_to_its_characters_once_not_under_both_of_its_answers():
    from webapp import why_views
    text = "a witty movie " * 100  # 1,400 characters, 300 words: cut to 1,000 characters, the chart to its words
    table = why_views.what_if(text, "sentiment-lstm")
    _, chart_notice = why_views.cell_size(text, "sentiment-lstm")
    assert "first 1,000 were used" in table and "first 1,000 were used" not in chart_notice
    assert f"first {why_views.MAX_SIZE_WORDS} words are shown here." in chart_notice
    long_words = " ".join(["incomprehensibilities"] * 60)  # 1,300 characters but 47 words after the cut: no word cut
    assert "first 1,000 were used" in why_views.cell_size(long_words, "sentiment-lstm")[1]


def test_the_memory_tab_says_one_word_has_no_distance_to_show_as_the_sentiment_tab_does():
    ko = SimpleNamespace(headers={"accept-language": "ko-KR,ko"})
    assert "two words or more" in memory_views.memory("great", "sst2")[1]
    assert "두 단어 이상" in memory_views.memory("great", "sst2", ko)[1]
    assert "two words" not in memory_views.memory("a great film", "sst2")[1]


def test_the_matplotlib_charts_speak_the_pages_language_alone():
    """Titles, axis labels and legends said both ways ("... · 한국어") ran off a phone's screen, the Korean half out
    of sight: each chart now says them in the page's language only."""
    from webapp import why_views
    hangul = lambda t: any("\uac00" <= ch <= "\ud7a3" for ch in t)  # noqa: E731
    english = lambda t: any(w in t for w in ("word", "unit", "verdict", "accuracy", "cell", "gradient", "share"))  # noqa: E731

    def texts(fig):
        out = []
        for ax in fig.axes:
            out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), *ax.get_legend_handles_labels()[1]]
        out += [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        return [t for t in out if t.strip()]

    for lang, request in (("en", None), ("ko", SimpleNamespace(headers={"accept-language": "ko-KR,ko"}))):
        text = "a dull start but a moving and funny film in the end"
        charts = [memory_views.memory(text, "sst2", request)[0], memory_views.lifetime(text, "sst2", request),
                  memory_views.distance("sst2", request)[0], why_views.cell_size(text, "sentiment-lstm", request)[0]]
        said = [t for fig in charts for t in texts(fig)]
        assert len(said) >= 20 and not any(" · " in t for t in said), said
        if lang == "en":
            assert not any(hangul(t) for t in said), said
        else:  # the words in Korean; formulas and model names (|c_t|, LSTM) as they are
            assert not any(english(t) for t in said) and sum(map(hangul, said)) >= 12, said


def test_the_cell_size_chart_names_a_bilstms_forward_half_labels_its_axes_and_its_line_at_one():
    from webapp import why_views
    text = "a dull start but a moving and funny film in the end"
    above, below = why_views.cell_size(text, "sentiment-bilstm")[0].axes
    assert "sentiment-bilstm (forward)" in above.get_title()  # zoo.why.cell_magnitudes reads the forward half
    assert above.get_ylabel() == below.get_ylabel() == "size (over units)"
    assert "1: the most |tanh(c_t)| and |h_t| can be" in above.get_legend_handles_labels()[1]
    assert "(forward)" not in why_views.cell_size(text, "sentiment-lstm")[0].axes[0].get_title()  # one way: no half


def test_the_sentiment_charts_titles_come_in_the_pages_language_with_every_update():
    """Sent as plain text: a chart gradio had hidden drew its gr.I18n titles as raw "__i18n__{...}" metadata."""
    words, short = logic.by_step_charts(["a", "film"], {"rnn": [0.4, 0.6]}, "ko")
    assert (words["x_title"], words["y_title"], words["color_title"], words["visible"]) == ("단어", "P(긍정)", "모델", True)
    assert short["x_title"] == "단어 번호" and short["visible"] is False
    assert logic.by_step_charts(["a", "film"], {"rnn": [0.4, 0.6]})[0]["y_title"] == "P(positive)"


def test_one_word_gets_its_answers_and_a_note_instead_of_an_empty_chart():
    """A line chart draws one point as nothing: the charts are hidden and the notice says why."""
    *_, words_chart, numbers_chart, notice = logic.sentiment("good", "sst2")
    assert words_chart["visible"] is False and numbers_chart["visible"] is False
    assert "needs two words or more" in notice
    ko = SimpleNamespace(headers={"accept-language": "ko-KR,ko"})
    assert "두 단어 이상" in logic.sentiment("good", "sst2", ko)[-1]
    assert "two words" not in logic.sentiment("good film", "sst2")[-1]


def test_every_examples_table_header_is_plain_text_not_a_translation_key():
    """gr.Dataset does not translate gr.I18n labels: the sentiment examples' headers showed raw translation
    metadata (`__i18n__{"key": "review"}`) in both languages."""
    from webapp.ui import build
    config = build().get_config_file()
    datasets = [c["props"] for c in config["components"] if c["type"] == "dataset"]
    assert datasets and all(isinstance(h, str) for d in datasets for h in d.get("headers") or [])
    assert any(d.get("headers") == ["Review · 리뷰", "Models · 모델 종류"] for d in datasets)


def test_a_review_longer_than_any_sst2_sentence_points_to_the_imdb_models():
    review = " ".join(["a long , slow film with one good scene ."] * 7)  # 70 words
    assert "70 words: longer than any sentence the SST-2 models learned from (55 words at most)" in logic.sentiment(review)[-1]
    assert "IMDB" not in logic.sentiment(review, "imdb")[-1] and "IMDB" not in logic.sentiment("a witty movie")[-1]


def test_a_name_with_a_korean_particle_glued_on_is_named_in_the_ner_notice():
    *_, notice = logic.ner("Samsung은 Seoul에 본사가 있고 Lee Jae-yong이 회장이다 .")
    assert "A name with a Korean particle glued on (Samsung은, Seoul에, Jae-yong이) is one word to the taggers" in notice
    assert "particle glued" not in logic.ner(NER_TEXT + " 서울")[-1]  # a Korean word alone, no name: not this notice
    # as the tagger splits words: a full stop or comma after one is a word of its own; no capital, no particle: none
    assert "(Seoul에, Samsung은)" in logic.ner("나는 Seoul에. Samsung은, 좋다")[-1]
    for text in ("x가 좋다", "AI기반 모델", "www.naver.com에서 봤다"):
        assert "particle glued" not in logic.ner(text)[-1], text


def test_the_gradient_chart_names_what_it_differentiates_a_taggers_last_words_tag():
    """For the CoNLL set "the prediction" was a tagger's tag for its last word, unsaid."""
    assert "gradient of the last word's tag per word" in memory_views.memory(NER_TEXT, "ner")[0].axes[0].get_title()
    assert "gradient of the verdict per word" in memory_views.memory("not bad at all", "sst2")[0].axes[0].get_title()


def test_the_probe_charts_axis_names_its_lines_as_its_legend_does():
    """The legend said "verdict first / last" and the axis "after the verdict / before it": one had to be flipped."""
    from webapp.texts import say
    for lang in ("en", "ko"):
        assert say("cue_first", lang) in say("probe_x", lang) and say("cue_last", lang) in say("probe_x", lang)


def test_the_gradient_charts_title_names_the_band_only_where_one_is_drawn():
    ratios = {"rnn": [0.1, 1.0], "lstm": [0.5, 1.0]}
    band = {"words": 2, "p10": [-2.0, 0.0], "p90": [0.0, 0.0], "mean": [-1.0, 0.0]}
    assert "dotted, band" not in plots.gradient_profiles(["a", "b"], ratios, {"rnn": None, "lstm": None}).axes[0].get_title()
    assert "dotted, band" in plots.gradient_profiles(["a", "b"], ratios, {"rnn": band, "lstm": None}).axes[0].get_title()
    one = plots.gradient_profiles(["a"], {"rnn": [1.0]}, {"rnn": band})  # a one-word text: no band to see, none named
    assert "dotted, band" not in one.axes[0].get_title() and not one.axes[0].collections


def test_log_axes_label_their_decades_in_plain_text_not_mathtext():
    """Mathtext labels (10^{-3}) are parsed by pyparsing on every draw: a quarter of a memory-tab figure's time."""
    fig = plots.gradient_profiles(["a", "b", "c"], {"rnn": [1e-6, 1e-3, 1.0]}, {"rnn": None})
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert "10⁻³" in labels and "10⁰" in labels and not any("$" in t for t in labels)
    narrow = plots.gradient_profiles(["a", "b", "c"], {"rnn": [0.02, 0.05, 0.08]}, {"rnn": None})  # under a decade
    narrow.canvas.draw()
    low, high = narrow.axes[0].get_ylim()
    shown = [t for t in narrow.axes[0].get_yticklabels(minor=True) if t.get_text() and low <= t.get_position()[1] <= high]
    assert {t.get_text() for t in shown} >= {"2×10⁻²", "5×10⁻²"}  # not an axis without a number on it
    one = plots.gradient_profiles(["a", "b"], {"rnn": [0.11, 3.3]}, {"rnn": None})
    one.axes[0].set_ylim(0.102, 3.38)  # as the lifetime chart's vanilla RNN panel drew it: 1.5 decades, one tick, 10⁰
    one.canvas.draw()
    low, high = one.axes[0].get_ylim()
    shown = [t.get_text() for t in one.axes[0].get_yticklabels(minor=True) if t.get_text() and low <= t.get_position()[1] <= high]
    assert "5×10⁻¹" in shown and "2×10⁰" in shown  # it had 10⁰ alone


def test_a_text_mostly_outside_the_vocabulary_gets_a_notice_naming_its_unknown_words():
    """Korean or emoji read as the one <unk> word: the tabs say so instead of presenting a confident-looking guess.
    The tiny models' vocabulary is English words from their sample data, as the zoo's is."""
    korean = "영화 정말 최고 movie"  # "movie" is a known word
    *_, notice = logic.sentiment(korean)
    assert "Words outside the vocabulary" in notice and "3 of the 4 read (영화, 정말, 최고)" in notice
    *_, notice = logic.ner("영화 정말 최고 " + NER_TEXT.split()[0])  # the tiny tagger's vocabulary is another
    assert "3 of the 4 read" in notice
    *_, notice = logic.sentiment(korean, "sst2", SimpleNamespace(headers={"accept-language": "ko-KR,ko"}))
    assert "읽은 4개 중 3개 (영화, 정말, 최고)" in notice
    *_, notice = logic.sentiment("영화 " * 3 + "정말 최고 좋아 너무 재미 movie")  # at most five named, each once
    # a word said as often as it comes, so the names add up to the count ("3 of 5 (😍, 👍)" read as one missing)
    assert "8 of the 9 read (영화 ×3, 정말, 최고, 좋아, 너무, …)" in notice and "재미" not in notice  # "…": more unnamed
    *_, notice = logic.sentiment("가" * 400 + " movie " + "나" * 400)  # long words cut as on the chart's axis
    assert f"({'가' * 13}…, {'나' * 13}…)" in notice and len(notice) < 300
    assert "(영화, 정말, 최고)" in logic.sentiment(korean)[-1]  # all named: no "…"
    # one word in three, but a Korean one, never in the English vocabulary (it may be the verdict): a milder notice
    *_, notice = logic.sentiment("영화 movie witty")
    assert "1 of the 3 read (영화). Each reads as the same unknown word: what it means does not reach" in notice
    *_, notice = logic.sentiment("영화 movie witty", "sst2", SimpleNamespace(headers={"accept-language": "ko-KR,ko"}))
    assert "읽은 3개 중 1개 (영화)" in notice and "그 뜻은 답에 반영되지 않습니다" in notice
    # a rare English word, a typo, an accent or a phone's typed punctuation among known ones: no notice
    assert logic.sentiment("a wittyy movie")[-1] == "" and logic.sentiment("a witty movie")[-1] == ""
    assert logic.sentiment("a “witty” movie — a naïve witty movie")[-1] == ""  # 4 of 10 unknown: “ ” — naïve
    assert logic.ner(NER_TEXT)[-1] == ""


def test_a_hangul_font_installed_after_matplotlibs_font_cache_was_written_is_still_used():
    from matplotlib import font_manager
    on_disk = [p for p in font_manager.findSystemFonts() if any(s in Path(p).name for s in plots.HANGUL_FONTS.values())]
    if not on_disk:
        pytest.skip("no Hangul font on this system (Debian: fonts-nanum)")
    stale = copy.copy(font_manager.fontManager)  # as if its cache was written before the font came
    stale.ttflist = [e for e in font_manager.fontManager.ttflist if e.name not in plots.HANGUL_FONTS]
    assert plots.hangul_fonts(stale), "the font files on disk should have been found and added"
