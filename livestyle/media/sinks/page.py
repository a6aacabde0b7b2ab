"""The web page ``MJPEGServerSink`` serves: the stream, a style picker, a painting upload and the
frame rate / latency / working size (polled from ``/stats``; the ``stats`` button or the ``i`` key
turns them on and off, for every view of the stream, the window's included)."""

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
#stats{{position:fixed;bottom:8px;left:8px;font:14px monospace;color:#fff;background:rgba(0,0,0,.55);
padding:4px 8px;border-radius:6px;white-space:pre}}
#stats:empty{{display:none}}
</style></head><body>
<img id="live" src="/stream.mjpg" alt="livestyle stream">
{picker}
</body></html>
"""

PICKER = """<form id="picker" method="post" action="/style">
<label>style <select name="name" onchange="fetch('/style?name='+encodeURIComponent(this.value),
{{method:'POST'}});">{options}</select></label>
<noscript><button>switch</button></noscript>{upload}
<button type="button" id="overlay" title="frame rate, latency and working size (key i)">stats</button></form>
<div id="stats"></div>
<script>
const stats = document.getElementById("stats");
function toggleOverlay() {{ fetch("/overlay", {{method: "POST"}}).then(poll); }}
document.getElementById("overlay").onclick = toggleOverlay;
document.addEventListener("keydown", e => {{ if (e.key === "i" && e.target.tagName !== "INPUT") toggleOverlay(); }});
function poll() {{
  return fetch("/stats").then(r => r.json()).then(s => {{
    stats.textContent = s.overlay ? `${{s.style}}  ${{s.fps.toFixed(1)}} fps  ${{Math.round(s.latency_ms)}} ms` +
      (s.work_size ? `  ${{s.work_size}}` : "") : "";
  }}).catch(() => {{}});
}}
poll(); setInterval(poll, 500);
</script>"""

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
