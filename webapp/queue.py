"""How the app's events queue: one group of slots for everything that runs a model, and raw input; what an
event that failed leaves on the page.

Events whose inputs are all text or choices run with preprocess=False: the function gets the JSON value
that came, and checks it itself (logic.clean_text, inside_views.get_model). gr.Textbox's preprocessing would turn
an API caller's 42 or ["Peter"] into the text "42" or "['Peter']" and classify that; the page always sends
strings, which preprocessing would hand over unchanged anyway.
"""
CONCURRENCY = 2  # two model runs at a time: the models are small, the CPU is shared
RAW = {"preprocess": False}
# one queue slot group for every event that runs models: a limit per event would let each tab run
# CONCURRENCY at once, so five tabs could load the CPU five times over
MODELS = {"concurrency_id": "models", "concurrency_limit": CONCURRENCY}


def clears_on_failure(event, outputs: list, hide: list = ()):
    """After an error gradio leaves the last answers under its "Error" badges, where they read as the answers to
    the input that failed: they are emptied, and `hide` (shown only beside an answer) hidden. The error itself
    stays in gradio's toast. -> event, for chaining."""
    import gradio as gr
    targets = [*outputs, *hide]

    def clear_after_failure():
        values = [None] * len(outputs) + [gr.update(visible=False)] * len(hide)
        return values if len(values) > 1 else values[0]
    event.failure(clear_after_failure, outputs=targets, api_visibility="private", queue=False)
    return event
