"""Layout of the "Why the cell" tab and the Shapes tab's "from the note" panel (event functions in
webapp/why_views.py). Layout only."""
from __future__ import annotations

import gradio as gr

from . import captions, inside_views, why_views
from .logic import lang_of
from .examples import RIGHT_EXAMPLE, WHY_EXAMPLE
from .queue import MODELS, RAW, clears_on_failure
from .texts import DIRECTIONS, I18N



def _inside_caption(image, model_name, direction="forward", request: gr.Request | None = None):
    """The decoder view's event: the upload taken raw and checked by captions.upload (in gradio's upload folder,
    never decoded by gradio first), as the caption tab's; then why_views.inside_caption."""
    return why_views.inside_caption(captions.upload(image, lang_of(request)), model_name, direction, request)


def why_tab(images: list[str]):
    """images: the example photos (captions.example_images), the first the decoder view's starting image."""
    gated = why_views.gated_models()
    default = next((n for n in gated if n.startswith("sentiment")), gated[0] if gated else None)
    with gr.Tab(I18N("tab_why"), id="why"):
        gr.Markdown(I18N("why_intro"))
        with gr.Row():
            text = gr.Textbox(label=I18N("sentence"), value=WHY_EXAMPLE, scale=3, min_width=260,
                              elem_id="why-text")  # 260: on a phone the model choice goes underneath
            model = gr.Dropdown(gated, value=default, label=I18N("model"), scale=1, min_width=200, elem_id="why-model")
        run = gr.Button(I18N("why_run"), variant="primary", elem_id="why-run")
        table = gr.Markdown(elem_id="why-table")
        gr.Markdown(I18N("why_note"))
        size = gr.Plot(label=I18N("size_note"), show_label=False, elem_id="why-size")
        size_notice = gr.Markdown(elem_id="why-size-notice")
        gr.Markdown(I18N("size_note"))
        # the input checked once (one error for a bad sentence, not two), then both views side by side
        checked = clears_on_failure(gr.on([run.click, text.submit], why_views.check, inputs=[text, model],
                                          api_visibility="private", **RAW), [table, size, size_notice])
        clears_on_failure(checked.success(why_views.what_if, inputs=[text, model], outputs=table, api_name="what_if",
                                          **RAW, **MODELS), [table])
        clears_on_failure(checked.success(why_views.cell_size, inputs=[text, model], outputs=[size, size_notice],
                                          api_name="cell_size", **RAW, **MODELS), [size, size_notice])

        gr.Markdown(I18N("right_intro"))
        ner_text = gr.Textbox(label=I18N("sentence"), value=RIGHT_EXAMPLE, elem_id="right-text")
        ner_run = gr.Button(I18N("right_run"), variant="primary", elem_id="right-run")
        steps = gr.Markdown(elem_id="right-table", elem_classes=["steps"])
        clears_on_failure(gr.on([ner_run.click, ner_text.submit], why_views.right_context, inputs=ner_text,
                                outputs=steps, api_name="right_context", **RAW, **MODELS), [steps])

        gr.Markdown(I18N("decoder_intro"))
        with gr.Row():
            # image_mode=None: the file reaches tasks.image_encoder's own checks undecoded
            image = gr.Image(value=next(iter(images), None), type="filepath", image_mode=None, sources=["upload", "clipboard"],
                             label=I18N("decoder_image"), height=220, scale=2, elem_id="decoder-image")
            with gr.Column(scale=1):
                cap_model = gr.Radio(list(why_views.CAPTION_MODELS), value="caption-lstm", label=I18N("model"),
                                     elem_id="decoder-model")
                direction = gr.Radio(DIRECTIONS, value="forward", label=I18N("direction"), interactive=False,
                                     elem_id="decoder-direction")
        if images:  # a photo back after the box was cleared, without a reload: the caption tab's examples
            examples = gr.Examples([[p] for p in images], inputs=image, label=I18N("examples"), run_on_click=False,
                                   cache_examples=False, api_visibility="private", api_name="decoder_example")
            examples.dataset.headers = []  # as the caption tab's
        cap_model.change(inside_views.two_way, cap_model, direction, api_visibility="private")
        cap_run = gr.Button(I18N("show"), variant="primary", elem_id="decoder-run")
        caption = gr.Markdown(elem_id="decoder-caption")
        figs = [gr.Plot(label=I18N(f"cell_note_{part}"), show_label=False, visible=False, elem_id=f"decoder-{part}")
                for part in inside_views.TRACE_PARTS]  # shown by gate_rows after a trace
        traced = clears_on_failure(cap_run.click(_inside_caption, inputs=[image, cap_model, direction],
                                                 outputs=[*figs, caption], api_name="inside_caption", **RAW, **MODELS),
                                   [caption], hide=figs)
        traced.success(inside_views.gate_rows, cap_model, figs, api_visibility="private")
        # a new photo (an upload, a paste, a clear, an example), model or direction hides the last caption and
        # heatmaps, which read as the new choice's, as the caption tab's columns do; a trace still going is cancelled
        gr.on([image.change, cap_model.change, direction.change], inside_views.hide_trace, outputs=[caption, *figs],
              api_visibility="private", queue=False, cancels=[traced])


def note_panel():
    """The seed note's NumPy loop on a trained vanilla RNN (the Shapes tab)."""
    rnns = [n for n in inside_views.inspectable_models() if n.endswith("-rnn")]
    gr.Markdown(I18N("note_intro"))
    with gr.Row():
        text = gr.Textbox(label=I18N("sentence"), value="a gorgeous , witty , seductive movie .", scale=3,
                          elem_id="note-text")
        model = gr.Dropdown(rnns, value=rnns[0] if rnns else None, label=I18N("model"), scale=1, elem_id="note-model")
    run = gr.Button(I18N("note_run"), variant="primary", elem_id="note-run")
    out = gr.Markdown(elem_id="note-out")
    clears_on_failure(gr.on([run.click, text.submit], why_views.note_loop, inputs=[text, model], outputs=out,
                            api_name="note_loop", **RAW, **MODELS), [out])
