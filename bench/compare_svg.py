"""SVG chart for bench/compare: throughput bars and open-loop latency percentile curves.

Plain SVG 1.1 written by hand (no plotting library): one small bar chart per throughput
metric (each with its own scale, the value printed on every bar) and one latency panel per
transport (percentile on a log "nines" axis, latency on a log axis), one curve per proxy plus
the direct client->backend reference, dashed.
"""
import math
from xml.sax.saxutils import escape

COLORS = {"ringedge": "#d62728", "nginx": "#2ca02c", "haproxy": "#1f77b4", "direct": "#555555"}
PCTS = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9), ("p99.99", 99.99)]


def _fmt(v):
    if v >= 100000:
        return "%.0fk" % (v / 1000)
    if v >= 10000:
        return "%.1fk" % (v / 1000)
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def _text(x, y, s, size=12, anchor="start", weight="normal", fill="#222"):
    return ('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" '
            'fill="%s">%s</text>' % (x, y, size, anchor, weight, fill, escape(s)))


def _bars(x0, y0, w, h, title, unit, values, proxies):
    """values: {proxy: number or None}. None draws 'n/a'."""
    out = ['<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fafafa" stroke="#ddd"/>'
           % (x0, y0, w, h)]
    out.append(_text(x0 + w / 2, y0 + 16, title, 12, "middle", "bold"))
    out.append(_text(x0 + w / 2, y0 + 30, unit, 10, "middle", fill="#666"))
    top, bottom = y0 + 44, y0 + h - 22
    nums = [v for v in values.values() if v]
    vmax = max(nums) if nums else 1.0
    bw = (w - 20) / max(1, len(proxies))
    for i, p in enumerate(proxies):
        bx = x0 + 10 + i * bw + bw * 0.15
        v = values.get(p)
        out.append(_text(bx + bw * 0.35, y0 + h - 8, p, 10, "middle"))
        if v is None:
            out.append(_text(bx + bw * 0.35, bottom - 4, "n/a", 10, "middle", fill="#888"))
            continue
        bh = (bottom - top) * (v / vmax)
        out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                   % (bx, bottom - bh, bw * 0.7, bh, COLORS.get(p, "#888")))
        out.append(_text(bx + bw * 0.35, bottom - bh - 3, _fmt(v), 10, "middle"))
    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>'
               % (x0 + 8, bottom, x0 + w - 8, bottom))
    return out


def _nines(p):
    return math.log10(100.0 / (100.0 - p))


def _latency(x0, y0, w, h, title, curves):
    """curves: {name: {"p50_us": ..}}; draws lines on log-log axes."""
    out = ['<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fafafa" stroke="#ddd"/>'
           % (x0, y0, w, h)]
    out.append(_text(x0 + w / 2, y0 + 18, title, 13, "middle", "bold"))
    left, right, top, bottom = x0 + 60, x0 + w - 125, y0 + 30, y0 + h - 40
    vals = [c[k + "_us"] for c in curves.values() for k, _ in PCTS if c.get(k + "_us")]
    if not vals:
        out.append(_text(x0 + w / 2, y0 + h / 2, "no open-loop data", 12, "middle", fill="#888"))
        return out
    lo = 10 ** math.floor(math.log10(max(min(vals), 1e-3)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    if hi <= lo:
        hi = lo * 10
    xmax = _nines(PCTS[-1][1])

    def X(p):
        return left + (right - left) * _nines(p) / xmax

    def Y(v):
        return bottom - (bottom - top) * (math.log10(v) - math.log10(lo)) / (
            math.log10(hi) - math.log10(lo))

    d = lo
    while d <= hi * 1.0001:
        y = Y(d)
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>'
                   % (left, y, right, y))
        label = "%g ms" % (d / 1000) if d >= 1000 else "%g us" % d
        out.append(_text(left - 5, y + 4, label, 10, "end"))
        d *= 10
    for name, p in PCTS:
        x = X(p)
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>'
                   % (x, top, x, bottom))
        out.append(_text(x, bottom + 14, name, 10, "middle"))
    out.append(_text((left + right) / 2, bottom + 30, "percentile (log scale of 1/(1-p))",
                     10, "middle", fill="#666"))
    ly = top + 10
    for cname, c in curves.items():
        pts = [(X(p), Y(c[k + "_us"])) for k, p in PCTS if c.get(k + "_us")]
        color = COLORS.get(cname, "#888")
        dash = ' stroke-dasharray="5,4"' if cname == "direct" else ""
        out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                   % (color, dash, " ".join("%.1f,%.1f" % q for q in pts)))
        for q in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (q[0], q[1], color))
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
                   'stroke-width="2"%s/>' % (right + 10, ly, right + 30, ly, color, dash))
        label = cname if cname != "direct" else "direct (no proxy)"
        out.append(_text(right + 34, ly + 4, label, 10))
        ly += 16
    return out


def render(title, subtitle, bars, latency_panels, proxies):
    """bars: [(title, unit, {proxy: value})]; latency_panels: [(title, {curve: lat})]."""
    cols = 4
    bw, bh = 240, 190
    rows = max(1, (len(bars) + cols - 1) // cols)
    lw, lh = 480, 300
    width = cols * bw + 20
    height = 70 + rows * (bh + 10) + (lh + 10 if latency_panels else 0) + 10
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif">'
           % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           _text(width / 2, 24, title, 16, "middle", "bold"),
           _text(width / 2, 44, subtitle, 11, "middle", fill="#555")]
    for i, (t, unit, vals) in enumerate(bars):
        r, c = divmod(i, cols)
        out += _bars(10 + c * bw, 60 + r * (bh + 10), bw - 10, bh, t, unit, vals, proxies)
    ly = 60 + rows * (bh + 10)
    for i, (t, curves) in enumerate(latency_panels[:2]):
        out += _latency(10 + i * (lw + 0), ly, lw - 10, lh, t, curves)
    out.append("</svg>")
    return "\n".join(out) + "\n"
