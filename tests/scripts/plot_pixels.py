"""Checks a headless-Chromium screenshot of a verto plot against the plot's
own layout: at each probe (x, y) in data units of panel P, the series colour
must be at the pixel the layout maps it to, or the background there.

usage: plot_pixels.py FILE.svg|FILE.html SHOT.png PANEL:COLOUR:X:Y[:bg] ...

The plot area and the axes' ranges come from the panel's data-plot-area,
data-x-domain and data-y-domain attributes (include/verto/plot.h documents
the mapping). Tolerances: a curve is 2 px wide, so within 1 px of its centre
some pixel is fully covered and shows the series colour up to rounding (sum
of channel differences <= 40 allows colour-space rounding); the background
is white with #e6e6e6 grid lines, so every pixel within 3 px of a background
probe must be that light (each channel >= 220) and far from every series
colour."""
import re
import sys

from PIL import Image


def hex_rgb(h):
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


def main():
    doc, shot, probes = sys.argv[1], sys.argv[2], sys.argv[3:]
    text = open(doc, encoding="utf-8").read()
    panels = []
    for m in re.finditer(r'data-plot-area="([^"]+)" data-x-domain="([^"]+)" data-y-domain="([^"]+)"', text):
        area = [float(v) for v in m.group(1).split()]
        xd = [float(v) for v in m.group(2).split()]
        yd = [float(v) for v in m.group(3).split()]
        panels.append((area, xd, yd))
    colours = set(re.findall(r'<polyline fill="none" stroke="(#[0-9a-f]{6})"', text))
    img = Image.open(shot).convert("RGB")
    width = int(re.search(r'<svg [^>]*width="(\d+)"', text).group(1))
    assert img.size[0] >= width, f"screenshot {img.size} narrower than the SVG ({width})"
    failures = 0
    for p in probes:
        parts = p.split(":")
        panel, colour, x, y = int(parts[0]), parts[1], float(parts[2]), float(parts[3])
        want_bg = len(parts) > 4 and parts[4] == "bg"
        (x0, y0, x1, y1), (xlo, xhi), (ylo, yhi) = panels[panel]
        px = x0 + (x - xlo) / (xhi - xlo) * (x1 - x0)
        py = y1 - (y - ylo) / (yhi - ylo) * (y1 - y0)
        cx, cy = int(px), int(py)  # the pixel whose square holds the point
        if want_bg:
            near = [img.getpixel((cx + dx, cy + dy)) for dx in range(-3, 4) for dy in range(-3, 4)]
            light = all(min(c) >= 220 for c in near)
            far = all(sum(abs(a - b) for a, b in zip(c, hex_rgb(s))) > 150 for c in near for s in colours)
            ok = light and far
            what = f"background at ({x:g}, {y:g}) = pixel ({px:.1f}, {py:.1f})"
        else:
            want = hex_rgb(colour)
            best = min(sum(abs(a - b) for a, b in zip(img.getpixel((cx + dx, cy + dy)), want))
                       for dx in (-1, 0, 1) for dy in (-1, 0, 1))
            ok = best <= 40
            what = f"{colour} at ({x:g}, {y:g}) = pixel ({px:.1f}, {py:.1f}): nearest colour differs by {best}"
        print(("  ok: " if ok else "  FAILED: ") + what)
        failures += not ok
    sys.exit(1 if failures else 0)


main()
