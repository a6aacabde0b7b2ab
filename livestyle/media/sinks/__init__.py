"""Where live frames go: a window, a virtual camera, a browser (MJPEG over HTTP), a file.

``base.py`` holds the contract every sink codes against (:class:`~.base.FrameSink`,
:class:`~.base.LiveControls`, :class:`~.base.FrameMeta`); then one module per sink:
``window.py`` (OpenCV window, keys), ``virtualcam.py`` (pyvirtualcam), ``web.py`` (MJPEG server,
with its page in ``page.py``) and ``recorder.py`` (a video file). The live pipeline
(``livestyle.pipeline.live``) opens each sink with the controls that keys and the page use.
"""
