"""How the app's events queue: one group of slots for everything that runs a model, and raw input.

Events whose inputs are all text or choices run with preprocess=False: the function gets the JSON value
that came, and checks it itself (logic.clean_text, logic._get_model). gr.Textbox's preprocessing would turn
an API caller's 42 or ["Peter"] into the text "42" or "['Peter']" and classify that; the page always sends
strings, which preprocessing would hand over unchanged anyway.
"""
CONCURRENCY = 2  # two model runs at a time: the models are small, the CPU is shared
RAW = {"preprocess": False}
# one queue slot group for every event that runs models: a limit per event would let each tab run
# CONCURRENCY at once, so five tabs could load the CPU five times over
MODELS = {"concurrency_id": "models", "concurrency_limit": CONCURRENCY}
