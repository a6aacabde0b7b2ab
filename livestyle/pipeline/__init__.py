"""Frames through a stylizer, end to end: the layer between sources/sinks and the commands.

``file.py``: a video file to a video file (``livestyle video``); ``live.py``: a live source to live
sinks (``livestyle cam``); ``styles.py``: the style bank a live session switches between;
``threads.py``: the worker and queue helpers both pipelines run on.
"""
