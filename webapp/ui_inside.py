"""Layout of the "Inside the cell" tab (event functions in webapp/inside_views.py). Layout only: its text box and
model choice are made first, unrendered, so the pattern tabs (webapp.ui) can send them their text and model."""
from __future__ import annotations

import gradio as gr

from . import inside_views
from .examples import NER_EXAMPLES
from .queue import MODELS, RAW, clears_on_failure
from .texts import DIRECTIONS, I18N


def inside_inputs() -> list:
    """The inside tab's text box and model choice, made unrendered before the pattern tabs, which copy their
    input into the box and choose the model that reads it (inside_views.follow)."""
    choices = inside_views.inspectable_models()
    # the tagger, for the box's starting sentence (a NER example)
    default = next((n for n in choices if n == "ner-lstm"), next((n for n in choices if n.endswith("-lstm")),
                                                                  choices[0] if choices else None))
    return [gr.Textbox(label=I18N("sentence"), value=NER_EXAMPLES[0], scale=3, min_width=260, elem_id="inside-text",
                       render=False),
            # min_width: on a phone a narrower box put its arrow over the end of the name ("sentiment-bilst▾m")
            gr.Dropdown(choices, value=default, label=I18N("model"), scale=1, min_width=200, elem_id="inside-model",
                        render=False)]


def inside_tab(inputs: list):
    """inputs: inside_inputs(), rendered here."""
    box, model = inputs
    with gr.Tab(I18N("tab_inside"), id="inside"):
        gr.Markdown(I18N("inside_intro"))
        with gr.Row():
            box.render()
            model.render()
            direction = gr.Radio(DIRECTIONS, value="forward", label=I18N("direction"), scale=1,
                                 interactive=str(model.value).endswith("bilstm"), elem_id="inside-direction")
        run = gr.Button(I18N("show"), variant="primary", elem_id="inside-run")
        notice = gr.Markdown(elem_id="inside-notice")
        figs, rows = [], []
        for part in inside_views.TRACE_PARTS:
            with gr.Row(visible=False, elem_id=f"inside-row-{part}") as row:  # shown by gate_rows after a trace
                # min widths: on a phone the note goes under its heatmap instead of squeezing both side by side
                figs.append(gr.Plot(label=I18N(f"cell_note_{part}"), show_label=False, scale=4, min_width=480,
                                    elem_id=f"inside-{part}"))
                with gr.Column(scale=1, min_width=200):  # gr.Markdown takes no min width of its own (gradio 6.31)
                    gr.Markdown(I18N(f"cell_note_{part}"), elem_classes=["note"])
            rows.append(row)
        traced = clears_on_failure(gr.on([run.click, box.submit], inside_views.inside, inputs=[box, model, direction],
                                         outputs=[*figs, notice], api_name="inside", **RAW, **MODELS), [*figs, notice],
                                   hide=rows)
        shown = traced.success(inside_views.gate_rows, model, rows, api_visibility="private")
        # unqueued, so the direction is set back before a run the next click starts (a queued one's change came
        # after it, and hid its trace)
        model.change(inside_views.two_way, model, direction, api_visibility="private", queue=False)
        # a new text (typed, or sent by a pattern tab), model or direction hides the last trace, which read as the
        # new one's; a trace still being drawn for the old ones is cancelled, rows included
        gr.on([box.change, model.change, direction.change], inside_views.hide_trace, outputs=[notice, *rows],
              api_visibility="private", queue=False, cancels=[traced, shown], trigger_mode="always_last")
