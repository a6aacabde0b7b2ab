"""The web page ``MJPEGServerSink`` serves: the stream, a style picker and a painting upload."""

from __future__ import annotations

import html

from .base import LiveControls

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>livestyle</title>
<style>
html,body{{margin:0;height:100%;background:#000;overflow:hidden}}
#live{{width:100%;height:100%;object-fit:contain;display:block}}
#picker{{position:fixed;top:8px;left:8px;font:14px sans-serif;color:#fff;background:rgba(0,0,0,.55);
padding:6px 8px;border-radius:6px;opacity:.75}}
#picker:hover{{opacity:1}}
</style></head><body>
<img id="live" src="/stream.mjpg" alt="livestyle stream">
{picker}
</body></html>
"""

PICKER = """<form id="picker" method="post" action="/style">
<label>style <select name="name" onchange="fetch('/style?name='+encodeURIComponent(this.value),
{{method:'POST'}});">{options}</select></label>
<noscript><button>switch</button></noscript>{upload}</form>"""

# Any painting becomes the style (AdaIN): the file is POSTed as-is, then the page reloads its list.
UPLOAD = """ <label>painting <input type="file" accept="image/*" onchange="if(this.files[0])
fetch('/style-image?name='+encodeURIComponent(this.files[0].name.replace(/\\.[^.]*$/,'')),
{method:'POST',body:this.files[0]}).then(()=>location.reload());"></label>"""


def render_page(controls: LiveControls | None, clean: bool) -> bytes:
    """The page; ``clean`` (``/?clean``, for an OBS browser source) leaves the picker out."""
    if clean or controls is None:
        return PAGE.format(picker="").encode()
    options = "".join(
        f'<option value="{html.escape(n)}"{" selected" if n == controls.style else ""}>{html.escape(n)}</option>'
        for n in controls.styles)
    upload = UPLOAD if controls.accepts_style_images else ""
    return PAGE.format(picker=PICKER.format(options=options, upload=upload)).encode()
