"""The page: one gr.Blocks with a tab per sequence pattern and four tabs that look inside the models.

Layout only (the "Inside the cell" tab's in webapp.ui_inside, the "Why the cell" tab's in webapp.ui_why); every
computation is in the event modules (webapp.logic, inside_views, captions, shapes, memory_views, why_views) so
tests can call it without a browser. Each event has an api_name, so gradio_client can use the app as an API.
"""
from __future__ import annotations

import os

import gradio as gr

from . import captions, inside_views, logic, memory_views, models, plots, ui_inside, ui_why
from .queue import CONCURRENCY, MODELS, RAW, clears_on_failure
from .examples import MEMORY_EXAMPLE, NER_EXAMPLES, REVIEW_EXAMPLES, SENTIMENT_EXAMPLES
from .shapes import shapes
from .texts import EXAMPLE_HEADERS, I18N, SET_LABELS, say


MEMORY_SETS = [(SET_LABELS[k], k) for k in ("imdb", "sst2", "ner")]


def _columns(task, make_output, card_first: bool = False):
    """Three result columns, vanilla RNN | LSTM | BiLSTM; make_output(arch) -> that column's main component.
    Outputs in the order (main, card) per column; card_first shows the card (the model's name) on top, for
    outputs with no label of their own (the caption lists, of different lengths)."""
    outs = []
    with gr.Row(equal_height=False):
        for arch in models.ARCHS:
            with gr.Column(min_width=220):
                made = {}
                for part in ("card", "main") if card_first else ("main", "card"):  # made in the order shown
                    made[part] = gr.Markdown(elem_classes=["card"], elem_id=f"{task}-card-{arch}") if part == "card" \
                        else make_output(arch)
                outs += [made["main"], made["card"]]
    return outs


def _missing_notice(task: str) -> None:
    """A line at the top of a tab whose models are not all there, so the tab says so instead of failing."""
    missing = [f"{task}-{a}" for a, (p, _) in models.for_task(task).items() if p is None]
    if missing:
        gr.Markdown(f"⚠️ Not available yet / 아직 준비되지 않음: {', '.join(missing)}", elem_id=f"{task}-missing")


def sentiment_tab(inside: list):
    with gr.Tab(I18N("tab_sentiment"), id="sentiment"):
        _missing_notice("sentiment")
        with gr.Row():
            box = gr.Textbox(label=I18N("review"), info=I18N("shift_enter"), lines=2, value=SENTIMENT_EXAMPLES[1], scale=4,
                             min_width=260, elem_id="sentiment-text")  # 260: on a phone the models go underneath
            data = gr.Radio(logic.SENTIMENT_DATA, value="sst2", label=I18N("sentiment_models"), scale=1,
                            elem_id="sentiment-data")
        examples_slot = gr.Column()  # filled below, once the outputs exist; shown under the input
        run = gr.Button(I18N("run"), variant="primary", elem_id="sentiment-run")
        # notices about the input (cut to its first characters, words unknown to the models) sit under it, where
        # they are read before the answers, not below the chart
        notice = gr.Markdown(elem_id="sentiment-notice")
        cols = _columns("sentiment", lambda a: gr.Label(label=I18N(a), num_top_classes=2, elem_id=f"sentiment-{a}"))
        # drawn by the browser from a table (webapp.plots.by_step): no figure to render on the server
        # two charts, one per kind of x (words, or word numbers for a long review), one shown at a time
        line = dict(y=plots.BY_STEP_Y, color=plots.BY_STEP_MODEL, y_lim=[0, 1], tooltip=[plots.BY_STEP_TEXT],
                    color_map={n[a]: plots.COLORS[a] for n in (plots.NAMES, plots.NAMES_KO) for a in models.ARCHS},
                    label=I18N("by_step"), y_title=I18N("by_step_y"), color_title=I18N("by_step_model"))
        charts = [gr.LinePlot(x=plots.BY_STEP_X, x_label_angle=-45, x_title=I18N("by_step_x"),
                              elem_id="sentiment-chart", **line),
                  gr.LinePlot(x=plots.BY_STEP_N, x_title=I18N("by_step_n"), visible=False,
                              elem_id="sentiment-chart-numbers", **line)]
        gr.Markdown(I18N("by_step_note"))
        outputs = [*cols, *charts, notice]
        # the charts hidden, not emptied: a LinePlot set to None threw in the browser ("reading 'offsetWidth'")
        clears_on_failure(gr.on([run.click, box.submit], logic.sentiment, inputs=[box, data], outputs=outputs,
                                api_name="sentiment", **RAW, **MODELS), [*cols, notice], hide=charts
                          ).success(inside_views.follow_sentiment, [box, data, inside[1]], inside,
                                 api_visibility="private")  # the inside tab's "current input", and its model
        with examples_slot:
            rows = [[t, "sst2"] for t in SENTIMENT_EXAMPLES] + [[t, "imdb"] for t in REVIEW_EXAMPLES]
            # an example only fills the inputs; the run after it is our own event, with the main event's input
            # checks and queue slots (gr.Examples' own run is a callable side door: preprocessed, its own slots)
            examples = gr.Examples(rows, inputs=[box, data], label=I18N("examples"), run_on_click=False,
                                   cache_examples=False, api_visibility="private", api_name="sentiment_example")
            # the table's column headers: gr.Dataset shows its components' gr.I18n labels untranslated, as raw
            # translation keys, so it gets plain words in both languages, as the radio's choices do
            examples.dataset.headers = EXAMPLE_HEADERS
            clears_on_failure(examples.load_input_event.then(
                logic.sentiment, inputs=[box, data], outputs=outputs, api_name="sentiment_example_run",
                api_visibility="private", **RAW, **MODELS), outputs  # after the main event, which keeps the name /sentiment
                              ).success(inside_views.follow_sentiment, [box, data, inside[1]], inside, api_visibility="private")


def ner_tab(inside: list):
    with gr.Tab(I18N("tab_ner"), id="ner"):
        _missing_notice("ner")
        box = gr.Textbox(label=I18N("sentence"), value=NER_EXAMPLES[1], elem_id="ner-text")  # one line: Enter runs
        examples_slot = gr.Column()  # filled below, once the outputs exist; shown under the input
        run = gr.Button(I18N("run"), variant="primary", elem_id="ner-run")
        notice = gr.Markdown(elem_id="ner-notice")  # under the input, as the sentiment tab's
        cols = _columns("ner", lambda a: gr.HighlightedText(label=I18N(a), color_map=plots.ENTITY_COLORS, show_legend=True,
                                                     combine_adjacent=False, elem_id=f"ner-{a}"))
        gr.Markdown(I18N("legend"))
        outputs = [*cols, notice]
        clears_on_failure(gr.on([run.click, box.submit], logic.ner, inputs=box, outputs=outputs, api_name="ner", **RAW,
                                **MODELS), outputs).success(inside_views.follow_ner, [box, inside[1]], inside,
                                                         api_visibility="private")  # as the sentiment tab's
        with examples_slot:  # fills the box, then our own run (see sentiment_tab)
            examples = gr.Examples(NER_EXAMPLES, inputs=box, label=I18N("examples"), run_on_click=False,
                                   cache_examples=False, api_visibility="private", api_name="ner_example")
            examples.dataset.headers = []  # one column needs no header (and a gr.I18n one shows untranslated)
            clears_on_failure(examples.load_input_event.then(
                logic.ner, inputs=box, outputs=outputs, api_name="ner_example_run", api_visibility="private",
                **RAW, **MODELS), outputs  # after the main event, which keeps the name /ner
                              ).success(inside_views.follow_ner, [box, inside[1]], inside, api_visibility="private")


def caption_tab(images: list[str]):
    """images: the example photos (captions.example_images), the first one already in the image box."""
    with gr.Tab(I18N("tab_caption"), id="caption"):
        _missing_notice("caption")
        gr.Markdown(I18N("caption_intro"))
        with gr.Row():
            # the event takes the upload unprocessed (**RAW, captions.upload): gradio would otherwise open, convert
            # to RGB and re-encode it before tasks.image_encoder's checks (size, bombs, decoded-size budget) run;
            # image_mode=None keeps gr.Image from converting should the event ever preprocess again
            image = gr.Image(value=next(iter(images), None), type="filepath", image_mode=None,
                             sources=["upload", "webcam", "clipboard"], label=I18N("caption_image"), height=260,
                             scale=3, elem_id="caption-image")
            beam = gr.Slider(1, captions.MAX_BEAM, value=captions.DEFAULT_BEAM, step=1, label=I18N("beam"), scale=1)
        examples_slot = gr.Column()
        run = gr.Button(I18N("run"), variant="primary", elem_id="caption-run")
        cols = _columns("caption", lambda a: gr.Markdown(label=I18N(a), elem_id=f"caption-{a}",
                                                         elem_classes=["captions"]), card_first=True)
        notice = gr.Markdown(elem_id="caption-notice")
        outputs = [*cols, notice]
        run_event = clears_on_failure(gr.on([run.click], captions.caption_upload, inputs=[image, beam], outputs=outputs,
                                            api_name="caption", **RAW, **MODELS), outputs)
        def clear_captions():  # a new photo clears the last one's captions: under an error badge they read as its
            return [""] * len(outputs)
        # change: an upload, a webcam shot, a paste, a clear or an example; a run still going for the last photo
        # is cancelled, or its captions would land under the new one
        image.change(clear_captions, outputs=outputs, api_visibility="private", queue=False, cancels=[run_event])
        with examples_slot:
            if images:  # fills the image, then our own run (see sentiment_tab)
                examples = gr.Examples([[p] for p in images], inputs=image, label=I18N("examples"),
                                       run_on_click=False, cache_examples=False, api_visibility="private",
                                       api_name="caption_example")
                examples.dataset.headers = []  # as the NER examples'
                clears_on_failure(examples.load_input_event.then(
                    captions.caption_upload, inputs=[image, beam], outputs=outputs, api_name="caption_example_run",
                    api_visibility="private", **RAW, **MODELS), outputs)


def memory_tab():
    with gr.Tab(I18N("tab_memory"), id="memory"):
        gr.Markdown(I18N("memory_intro"))
        with gr.Row():
            box = gr.Textbox(label=I18N("review"), info=I18N("shift_enter"), value=MEMORY_EXAMPLE, lines=3, scale=4,
                             min_width=260, elem_id="memory-text")  # as the sentiment tab's
            model_set = gr.Radio(MEMORY_SETS, value="imdb", label=I18N("task"), scale=1, elem_id="memory-set")
        run = gr.Button(I18N("compare"), variant="primary", elem_id="memory-run")
        chart = gr.Plot(label=I18N("memory_note"), show_label=False, elem_id="memory-chart")
        gr.Markdown(I18N("memory_note"))
        life = gr.Plot(label=I18N("lifetime_note"), show_label=False, elem_id="memory-lifetime")
        gr.Markdown(I18N("lifetime_note"))
        notice = gr.Markdown(elem_id="memory-notice")
        # the input checked once (one error for a bad text, not two), then both charts side by side
        checked = clears_on_failure(gr.on([run.click, box.submit], memory_views.check, inputs=[box, model_set],
                                          api_visibility="private", **RAW), [chart, notice, life])
        clears_on_failure(checked.success(memory_views.memory, inputs=[box, model_set], outputs=[chart, notice],
                                          api_name="memory", **RAW, **MODELS), [chart, notice])
        clears_on_failure(checked.success(memory_views.lifetime, inputs=[box, model_set], outputs=life,
                                          api_name="lifetime", **RAW, **MODELS), [life])
        gr.Markdown(I18N("probe_intro"))
        with gr.Row():
            probe_set = gr.Radio(MEMORY_SETS[:2], value="imdb", label=I18N("task"), scale=1, elem_id="probe-set")
            probe_run = gr.Button(I18N("probe_run"), variant="primary", scale=1, elem_id="probe-run")
        probe_chart = gr.Plot(label=I18N("probe_intro"), show_label=False, elem_id="probe-chart")
        probe_table = gr.Markdown(elem_id="probe-table", elem_classes=["steps"])  # scrolls sideways on a phone
        clears_on_failure(probe_run.click(memory_views.distance, inputs=probe_set, outputs=[probe_chart, probe_table],
                                          api_name="distance_probe", **RAW, **MODELS), [probe_chart, probe_table])


def shapes_tab():
    with gr.Tab(I18N("tab_shapes"), id="shapes"):
        gr.Markdown(I18N("shapes_intro"))
        with gr.Row():
            steps = gr.Slider(1, 200, value=2, step=1, label=I18N("timesteps"))
            size = gr.Slider(1, 1024, value=10, step=1, label=I18N("input_size"))
            hidden = gr.Slider(1, 1024, value=3, step=1, label=I18N("hidden_size"))
        with gr.Row():
            cell = gr.Radio(["rnn", "lstm"], value="rnn", label=I18N("cell"))
            # "whole" (CSS): on a phone the labels go to rows of their own, whole ("Bidirect" was cut); gradio
            # groups a row's checkboxes in one form and sets their min width to 0 whatever min_width says
            bi = gr.Checkbox(False, label=I18N("bidirectional"), elem_classes=["whole"])
            seq = gr.Checkbox(False, label=I18N("return_sequences"), elem_classes=["whole"])
        out = gr.Markdown(shapes(), elem_id="shapes-out")
        inputs = [steps, size, hidden, cell, bi, seq]
        # raw input (**RAW): shapes() checks each value itself, where gradio's preprocessing would answer a
        # number sent as text with its own internal error
        clears_on_failure(gr.on([c.change for c in inputs], shapes, inputs=inputs, outputs=out, api_name="shapes", **RAW),
                          [out])
        ui_why.note_panel()


# gradio 6.31's Source Sans Pro at weight 600 (its bold) is a subset of 55 letters, so bold words mixed two fonts
# (the "Bi" of BiLSTM, an entity's capital); its complete Bold (700) answers weight 600 instead. Local files
# both: GoogleFont reads gradio's bundled copy where there is one, so the page still loads nothing from outside
THEME = gr.themes.Default(font=[gr.themes.GoogleFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif",
                                "system-ui", "sans-serif"])

CSS = (".card { font-size: 0.9em } .note { font-size: 0.9em; padding-top: 1em } "
       # the right-context and probe tables have a column per word or distance: they scroll sideways instead of
       # wrapping their cells letter by letter on a phone; so does the what-if table, its numbers kept whole
       ".steps table, #why-table table { display: block; overflow-x: auto } .steps th, .steps td { white-space: nowrap } "
       "#why-table td:not(:last-child), #why-table th { white-space: nowrap } "
       # a choice that cannot be made (the direction, for a model that reads one way) looks it: gradio draws it as any
       "label:has(> input:disabled) { opacity: 0.5; cursor: not-allowed } "
       # a shape is read whole: on a phone "(1, 2, 10)" broke over three lines
       "#shapes-out td:nth-child(2), #shapes-out td:nth-child(2) code { white-space: nowrap } "
       # its formulas wrap in a column of at least 14em (on a phone ~90 px wide, a few words a line, rows 250 px tall)
       "#why-table td:last-child { min-width: 14em } "
       # Korean wraps between words, not inside them (나란히 보 / 기); other scripts are not affected
       ".prose, .md, .prose table, .md table, label, button { word-break: keep-all; overflow-wrap: break-word } "
       # on a phone a figure keeps a readable width and scrolls sideways in its box: shrunk to 320 px its word
       # labels and legends were a few pixels tall
       ".form > .block.whole { min-width: min(200px, 100%) !important } "
       "@media (max-width: 640px) { .matplotlib.layout { overflow-x: auto; align-items: flex-start } "
       ".matplotlib img { width: 600px; max-width: none; height: auto } }")  # flex-start: a centred figure's left part could not be scrolled to


# gradio's toasts title themselves from the message's kind ("Error"), in English whatever the page's language
# (gr.Error's title is ignored by its front end): on a Korean browser the title is put in Korean as it appears
JS = """() => {
  const lang = ((navigator.languages && navigator.languages[0]) || navigator.language || "").toLowerCase();
  if (!lang.startsWith("ko")) return;
  const fix = () => document.querySelectorAll(".toast-title").forEach((title) => {
    for (const node of title.childNodes) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim() === "Error") node.textContent = "%s ";
    }
  });
  new MutationObserver(fix).observe(document.body, {childList: true, subtree: true, characterData: true});
}""" % say("error_title", "ko")  # the app raises errors only (texts.error)


def build() -> gr.Blocks:
    # no telemetry: the app must work offline and send nothing anywhere
    with gr.Blocks(title="seqzoo: RNN · LSTM · BiLSTM", analytics_enabled=False) as demo:
        gr.Markdown(I18N("title"))
        gr.Markdown(I18N("intro"))
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone every tab stays in sight, in two or three rows, not behind "⋯"
            inside = ui_inside.inside_inputs()  # before the pattern tabs, which send them their text
            sentiment_tab(inside)
            ner_tab(inside)
            images = captions.example_images()
            caption_tab(images)
            ui_inside.inside_tab(inside)
            memory_tab()
            ui_why.why_tab(images)
            shapes_tab()
    # After every event gradio's queue rebuilds a pandas table of the last 10,000 events for its /monitoring
    # page: ~10 ms of CPU per request (more as the table grows) that the next request waits behind on a
    # 2-core machine. The app turns that page off (app.launch), so compute the summary rarely; the variable
    # is read when the queue is made, here, and an explicit setting in the environment wins.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000000")
    # api_open=False: with it on (gradio's default off Spaces), POST /gradio_api/run/<name> ran any queued event
    # directly, outside the queue and its slot limit
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64, api_open=False)
    return demo
