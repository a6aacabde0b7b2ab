"""Frames through a stylizer, end to end: the layer between sources/sinks and the commands.

``file.py``: a video file to a video file (``livestyle video``); ``live.py``: a live source to live
sinks (``livestyle cam``), at a working size ``adaptive.py`` fits to the machine's speed;
``styles.py``: the style bank a live session switches between;
``threads.py``: the worker and queue helpers both pipelines run on. ``livestyle batch``:
``batch_plan.py`` turns inputs into jobs (long videos cut by ``chunks.py``) with completion
records, ``cluster.py`` starts or joins Ray, ``batch_worker.py`` is the actor that stylises a job,
``batch.py`` runs the plan on the workers and joins the pieces.
"""
