"""The status page's HTML and its shields-style SVG badges, from the public snapshot. Pure.

The HTML needs no JavaScript and fits a phone (one column, a viewport meta, the 90 daily
segments shrink to the width). Every text that comes from the config or the data is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

STATE_TEXT = {"up": "Up", "down": "Down", "unknown": "No data"}
STATE_COLOUR = {"up": "#2da44e", "down": "#cf222e", "unknown": "#8c959f"}
NO_DATA = "#d0d7de"

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:#1f2328;background:#f6f8fa}
main{max-width:56rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
h3{font-size:1rem;margin:0;overflow-wrap:anywhere}
.overall{padding:.75rem 1rem;border-radius:6px;color:#fff;font-weight:600}
.overall.up{background:#2da44e}.overall.down{background:#cf222e}.overall.unknown{background:#8c959f}
.check{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem;margin:.5rem 0}
.row{display:flex;justify-content:space-between;align-items:center;gap:.5rem}
.state{font-weight:600;white-space:nowrap}
.state.up{color:#1a7f37}.state.down{color:#cf222e}.state.unknown{color:#57606a}
.bar{display:flex;gap:1px;height:2rem;margin:.5rem 0 .25rem}
.day{flex:1 1 0;min-width:1px;border-radius:1px}
.legend{display:flex;justify-content:space-between;font-size:.8rem;color:#57606a;gap:.5rem}
.incidents ul{list-style:none;padding:0;margin:0}
.incident{background:#fff;border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;
padding:.5rem .75rem;margin:.5rem 0}
.incident.resolved{border-left-color:#2da44e}
footer{margin:2rem 0 1rem;font-size:.8rem;color:#57606a}
"""


def day_colour(uptime_pct: float | None) -> str:
    if uptime_pct is None:
        return NO_DATA
    if uptime_pct >= 99.95:
        return "#2da44e"
    if uptime_pct >= 99.0:
        return "#8fbf3f"
    if uptime_pct >= 95.0:
        return "#e3a008"
    return "#cf222e"


def pct(value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value:.2f}%" if value < 100 else "100%"


def _when(iso: str) -> str:
    return iso.replace("T", " ").replace("Z", "")[:16] + " UTC"


def render_html(snapshot: Mapping[str, Any], description: str | None = None) -> str:
    title = escape(str(snapshot["title"]))
    checks = list(snapshot["checks"])
    down = [c["name"] for c in checks if c["status"] == "down"]
    if down:
        overall, overall_text = "down", f"Down: {', '.join(down)}"
    elif checks and all(c["status"] == "up" for c in checks):
        overall, overall_text = "up", "All systems operational"
    else:
        overall, overall_text = "unknown", "Some checks have no recent data"
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{title}</h1>",
        f"<p>{escape(description)}</p>" if description else "",
        f'<p class="overall {overall}" id="overall">{escape(overall_text)}</p></header>',
    ]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for check in checks:
        groups.setdefault(str(check["group"]), []).append(check)
    for group, members in groups.items():
        parts.append(f'<section class="group"><h2>{escape(group)}</h2>')
        parts.extend(_check(c) for c in members)
        parts.append("</section>")
    parts.append(_incidents(snapshot["incidents"]))
    parts.append(
        f"<footer>Uptime as of {escape(_when(str(snapshot['updated_at'])))}; states and incidents are at "
        "most a minute old. Uptime counts the minutes each check was probed; days without data are "
        "grey.</footer></main></body></html>"
    )
    return "".join(parts)


def _check(check: Mapping[str, Any]) -> str:
    name, status = escape(str(check["name"])), str(check["status"])
    days = "".join(
        f'<span class="day" style="background:{day_colour(d["uptime_pct"])}" '
        f'title="{escape(d["date"])}: {escape(pct(d["uptime_pct"]))}"></span>'
        for d in check["days"]
    )
    uptime = check["uptime_pct"]
    return (
        f'<article class="check" id="check-{name}" data-status="{status}">'
        f'<div class="row"><h3>{name}</h3><span class="state {status}">{STATE_TEXT[status]}</span></div>'
        f'<div class="bar" role="img" aria-label="{name}: uptime per day over 90 days">{days}</div>'
        f'<div class="legend"><span>90 days ago</span><span>{escape(pct(uptime.get("90d")))} uptime '
        f"(24 h: {escape(pct(uptime.get('24h')))})</span><span>today</span></div></article>"
    )


def _incidents(incidents: list[Mapping[str, Any]]) -> str:
    if not incidents:
        return (
            '<section class="incidents"><h2>Incidents</h2><p>No incidents in the last 7 days.</p></section>'
        )
    items = []
    for incident in incidents:
        check = escape(str(incident["check"]))
        started = escape(_when(str(incident["started_at"])))
        if incident["resolved_at"]:
            ended = escape(_when(str(incident["resolved_at"])))
            items.append(
                f'<li class="incident resolved" data-check="{check}"><strong>{check}</strong> was down '
                f"from {started} to {ended} (resolved)</li>"
            )
        else:
            items.append(
                f'<li class="incident open" data-check="{check}"><strong>{check}</strong> down since '
                f"{started} (ongoing)</li>"
            )
    return f'<section class="incidents"><h2>Incidents</h2><ul>{"".join(items)}</ul></section>'


# --------------------------------------------------------------------------------------- badges
def _text_width(text: str) -> int:
    """Roughly Verdana 11px, as shields.io sizes its badges."""
    wide = sum(1 for ch in text if ch in "mwMW%")
    return int(len(text) * 6.5 + wide * 3) + 10


def shield(label: str, message: str, colour: str) -> str:
    lw, mw = _text_width(label), _text_width(message)
    width = lw + mw
    label_x, message_x = lw / 2, lw + mw / 2
    label, message = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label}: {message}"><title>{label}: {message}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{label_x:g}" y="15" fill="#010101" fill-opacity=".3">{label}</text>'
        f'<text x="{label_x:g}" y="14">{label}</text>'
        f'<text x="{message_x:g}" y="15" fill="#010101" fill-opacity=".3">{message}</text>'
        f'<text x="{message_x:g}" y="14">{message}</text></g></svg>'
    )


def badge_svg(check: Mapping[str, Any]) -> str:
    status = str(check["status"])
    return shield(str(check["name"]), {"unknown": "no data"}.get(status, status), STATE_COLOUR[status])


def uptime_badge(check: Mapping[str, Any], window: str) -> str:
    value = check["uptime_pct"].get(window)
    colour = STATE_COLOUR["unknown"] if value is None else day_colour(value)
    return shield(f"uptime {window}", pct(value), colour)
