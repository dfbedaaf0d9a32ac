"""What a printed figure must not do, checked on the rendered figure with the renderer's bounding
boxes: two text labels overlapping, two series drawn alike, a legend over the data."""
import itertools

import matplotlib.colors as mcolors
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

OVERLAP_PX = 1.0  # boxes that share more than this many pixels in both directions overlap


def _drawn_ticks(axis):
    """The tick labels the axis draws (those inside its view limits)."""
    return [t.label1 for t in axis._update_ticks() if t.label1.get_visible()]


def texts(fig):
    """(where, Text) of every visible non-empty text of the figure."""
    found = [("figure", t) for t in fig.texts]
    if fig._suptitle is not None and fig._suptitle not in fig.texts:
        found.append(("suptitle", fig._suptitle))
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        found += [(f"axes {i} title", t) for t in (ax.title, ax._left_title, ax._right_title)]
        found += [(f"axes {i} xlabel", ax.xaxis.label), (f"axes {i} ylabel", ax.yaxis.label)]
        found += [(f"axes {i} xtick", t) for t in _drawn_ticks(ax.xaxis)]
        found += [(f"axes {i} ytick", t) for t in _drawn_ticks(ax.yaxis)]
        found += [(f"axes {i} text", t) for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            found += [(f"axes {i} legend", t) for t in legend.get_texts()]
            if legend.get_title().get_text():
                found.append((f"axes {i} legend title", legend.get_title()))
    for legend in fig.legends:
        found += [("figure legend", t) for t in legend.get_texts()]
    return [(w, t) for w, t in found if t.get_visible() and t.get_text().strip()]


def overlapping_texts(fig):
    """['"a" (axes 0 text) overlaps "b" (axes 0 text)', ...] for every pair of overlapping labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(w, t, t.get_window_extent(renderer)) for w, t in texts(fig)]
    found = []
    for (wa, ta, a), (wb, tb, b) in itertools.combinations(boxes, 2):
        dx = min(a.x1, b.x1) - max(a.x0, b.x0)
        dy = min(a.y1, b.y1) - max(a.y0, b.y0)
        if dx > OVERLAP_PX and dy > OVERLAP_PX:
            found.append(f'"{ta.get_text()}" ({wa}) overlaps "{tb.get_text()}" ({wb})')
    return found


def _style(handle):
    """(colour, marker or line style, hatch) by which a legend entry is told apart."""
    if isinstance(handle, Line2D):
        marker = handle.get_marker()
        has_marker = marker not in (None, "None", "", " ")
        return (mcolors.to_hex(handle.get_color()), f"marker {marker}" if has_marker else f"line {handle.get_linestyle()}")
    if isinstance(handle, PathCollection):
        face = handle.get_facecolor()
        edge = handle.get_edgecolor()
        color = mcolors.to_hex(face[0]) if len(face) and face[0][3] > 0 else mcolors.to_hex(edge[0]) + " hollow"
        return (color, f"paths {[p.vertices.tobytes() for p in handle.get_paths()][:1]}")
    if isinstance(handle, BarContainer):
        patch = handle.patches[0]
        return (mcolors.to_hex(patch.get_facecolor()), f"bar {patch.get_hatch()}")
    if isinstance(handle, Patch):
        return (mcolors.to_hex(handle.get_facecolor()), f"patch {handle.get_hatch()}")
    return (type(handle).__name__, id(handle))


def duplicate_styles(fig):
    """['"a" and "b" in axes 0 share colour #1f77b4 and marker o', ...]: series of one axes that
    are drawn alike."""
    found = []
    for i, ax in enumerate(fig.axes):
        handles, labels = ax.get_legend_handles_labels()
        seen = {}
        for handle, label in zip(handles, labels):
            key = _style(handle)
            if key in seen and seen[key] != label:
                found.append(f'"{seen[key]}" and "{label}" in axes {i} share colour {key[0]} and {key[1]}')
            seen.setdefault(key, label)
    return found


def legends_over_data(fig):
    """['legend of axes 0 covers its data area', ...] for a legend drawn inside any axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    legends = [(f"legend of axes {i}", ax.get_legend()) for i, ax in enumerate(fig.axes)]
    legends += [("figure legend", lg) for lg in fig.legends]
    for what, legend in legends:
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        for j, ax in enumerate(fig.axes):
            area = ax.get_window_extent(renderer)
            dx = min(box.x1, area.x1) - max(box.x0, area.x0)
            dy = min(box.y1, area.y1) - max(box.y0, area.y0)
            if dx > OVERLAP_PX and dy > OVERLAP_PX:
                found.append(f"{what} covers the data area of axes {j}")
    return found


def problems(fig):
    return overlapping_texts(fig) + duplicate_styles(fig) + legends_over_data(fig)
