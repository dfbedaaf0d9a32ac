"""One figure style for every plots/ script.

- a fixed colour per family (the variant) and a marker per impl, the same in every figure; series
  of one family and impl that differ in other parameters get shades of the family's colour, and
  bf16 a dashed line;
- sizes of a paper column (3.5 in) and a full page (7 in); PDFs with embedded TrueType fonts;
- legends outside the data (right of the axes, or below for wide panels);
- labels naming only what differs within the figure (common_label_parts);
- reference levels (the BLAS floor, a claimed factor) as lines (reference_line);
- labels placed without overlap (spread_labels), equal ceilings named once (dedupe_levels)."""
import colorsys
import zlib

import matplotlib
import matplotlib.colors as mcolors

COLUMN_IN = 3.5
PAGE_IN = 7.0

FAMILY_COLORS = {
    "gemm_ffn": "#1f4e9c",     # dark blue
    "gemm_floor": "#000000",   # the BLAS floor: a reference level
    "bh4": "#8c564b",          # brown
    "lookup_ffn": "#d62728",   # red
    "soft_lookup": "#e377c2",  # pink
    "fff": "#2ca02c",          # green
    "moe": "#ff7f0e",          # orange
}
# Colours for families this list does not know yet (a new variant), picked by a hash of the name.
SPARE_COLORS = ["#17becf", "#9467bd", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39", "#7b4173"]

IMPL_MARKERS = {
    # gemm_ffn
    "openblas": "o", "onednn": "s", "naive": "x", "blis": "D", "libtorch": "P", "int8": "*",
    # lookup_ffn / bh4 / soft_lookup
    "optimized": "^", "reference": "x", "dense": "v", "blas": "h",
    # fff
    "per_token": "<", "level_batched": ">", "masked_matrix": "d", "fastff": "p", "matrix": "d",
    # moe
    "grouped": "8",
}
SPARE_MARKERS = ["H", "X", "1", "2", "3", "4", "+", "|"]
PRECISION_LINESTYLES = {"fp32": "-", "bf16": "--", "int8": ":"}
# Series without a family (machines, thread counts, stages): one colour each, in order.
SEQUENCE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf"]


def apply():
    """The rcParams every figure script uses (called on import)."""
    matplotlib.rcParams.update({
        "pdf.fonttype": 42,  # TrueType, embedded: journals refuse Type 3 fonts
        "ps.fonttype": 42,
        "font.size": 8,
        "axes.titlesize": 8,
        "axes.labelsize": 8,
        "legend.fontsize": 7,
        "xtick.labelsize": 7,
        "ytick.labelsize": 7,
        "lines.linewidth": 1.2,
        "lines.markersize": 4.5,
        "axes.grid": False,
        "savefig.bbox": "tight",
        "savefig.pad_inches": 0.03,
        "figure.dpi": 100,
    })


apply()


def size(width="page", aspect=0.62, height=None):
    """(width, height) in inches: width 'column' (3.5 in) or 'page' (7 in) or inches."""
    w = COLUMN_IN if width == "column" else PAGE_IN if width == "page" else float(width)
    return (w, height if height is not None else w * aspect)


def family_of(variant_or_block):
    """'gemm_ffn:bf16' -> 'gemm_ffn' (the block label's family is its variant)."""
    return str(variant_or_block).split(":")[0]


def family_color(family):
    family = family_of(family)
    if family in FAMILY_COLORS:
        return FAMILY_COLORS[family]
    return SPARE_COLORS[zlib.crc32(family.encode()) % len(SPARE_COLORS)]


def impl_marker(impl):
    impl = "" if impl is None or impl != impl else str(impl)
    if impl in IMPL_MARKERS:
        return IMPL_MARKERS[impl]
    return SPARE_MARKERS[zlib.crc32(impl.encode()) % len(SPARE_MARKERS)] if impl else "o"


MAX_SHADE_STEPS = 6  # lighter and darker steps of one hue before lightness is clamped


def shade(color, step):
    """The family's hue, lighter or darker by `step` (0: itself; 1, 2, ...: alternately lighter
    and darker), so series of one family stay recognisable."""
    if step == 0:
        return mcolors.to_hex(color)
    h, l, s = colorsys.rgb_to_hls(*mcolors.to_rgb(color))
    k = (step + 1) // 2
    l = min(0.85, l + 0.15 * k) if step % 2 else max(0.12, l - 0.12 * k)
    return mcolors.to_hex(colorsys.hls_to_rgb(h, l, s))


class SeriesStyles:
    """Colour, marker and line style per series of one figure: family colour, impl marker,
    precision line style; a (colour, marker) pair already taken in this figure gets the next
    shade of the family colour, so every series of a figure has its own pair."""

    def __init__(self):
        self.taken = {}

    def __call__(self, key, family, impl=None, precision=None):
        if key in self.taken:
            return self.taken[key]
        base, marker = family_color(family), impl_marker(impl)
        used = {(s["color"], s["marker"]) for s in self.taken.values()}
        color, marker = self._free_pair(base, marker, used)
        style = {"color": color, "marker": marker, "linestyle": PRECISION_LINESTYLES.get(str(precision), "-")}
        self.taken[key] = style
        return style

    @staticmethod
    def _free_pair(base, marker, used):
        """The first free (shade, marker) pair: the impl's marker in every shade of the family
        colour, then the spare markers; shades end where lightness is clamped, so the search ends."""
        shades = list(dict.fromkeys(shade(base, step) for step in range(2 * MAX_SHADE_STEPS + 1)))
        for m in [marker] + [m for m in SPARE_MARKERS if m != marker]:
            for color in shades:
                if (color, m) not in used:
                    return color, m
        return SEQUENCE_COLORS[len(used) % len(SEQUENCE_COLORS)], marker  # more series than pairs


def sequence_color(i):
    return SEQUENCE_COLORS[i % len(SEQUENCE_COLORS)]


def legend_outside(ax, where="right", **kwargs):
    """The legend beside the axes (right) or under them (below), never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if where == "below":
        ncol = kwargs.pop("ncol", min(3, len(handles)))
        return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(0, -0.18), ncol=ncol, frameon=False,
                         borderaxespad=0, **kwargs)
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, borderaxespad=0,
                     **kwargs)


def common_label_parts(labels):
    """(common, short): the words every label shares (for the title) and each label without them
    (what tells the series of the figure apart). A label left empty keeps its first word."""
    labels = [str(x) for x in labels]
    if len(labels) < 2:
        return "", labels
    words = [x.split(" ") for x in labels]
    shared = [w for w in words[0] if all(w in ws for ws in words[1:])]
    short = []
    for ws, full in zip(words, labels):
        rest = [w for w in ws if w not in shared]
        short.append(" ".join(rest) if rest else ws[0])
    return " ".join(shared), short


def reference_line(ax, value, label, axis="y", color="black", linestyle="--"):
    """A reference level (BLAS floor, claimed factor, ceiling) as a line across the axes."""
    draw = ax.axhline if axis == "y" else ax.axvline
    return draw(value, color=color, linestyle=linestyle, linewidth=0.9, label=label, zorder=1)


def dedupe_levels(levels, rel=0.01):
    """[(name, value)] -> [(joined names, value)]: levels within `rel` of each other are one line,
    named together ("avx2 = avx512")."""
    merged = []
    for name, value in sorted(levels, key=lambda nv: nv[1]):
        if merged and abs(value - merged[-1][1]) <= rel * max(abs(value), 1e-300):
            merged[-1] = (f"{merged[-1][0]} = {name}", merged[-1][1])
        else:
            merged.append((name, value))
    return merged


def spread_labels(fig, texts, gap_px=1.5, downward=False):
    """Moves annotations (made with textcoords='offset points') apart vertically until no two of
    `texts` overlap, keeping their order: upward from the lowest, or downward from the highest
    (for labels along the top edge)."""
    if len(texts) < 2:
        return
    renderer = fig.canvas.get_renderer()
    points_per_px = 72.0 / fig.dpi
    # Every pair, not only neighbours in height: two labels side by side at one height can both
    # overlap a third that is not next to them in the order.
    for _ in range(len(texts) * len(texts)):
        boxes = sorted(((t.get_window_extent(renderer), t) for t in texts), key=lambda bt: bt[0].y0,
                       reverse=downward)
        moved = False
        for i, (fixed, _) in enumerate(boxes):
            for box, text in boxes[i + 1:]:
                overlap = (box.y1 + gap_px - fixed.y0) if downward else (fixed.y1 + gap_px - box.y0)
                if overlap > 0 and box.x0 < fixed.x1 and fixed.x0 < box.x1:
                    dx, dy = text.xyann
                    text.xyann = (dx, dy + (-overlap if downward else overlap) * points_per_px)
                    moved = True
                    break
            if moved:
                break
        if not moved:
            return
