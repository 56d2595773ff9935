"""Report figures: bounded metrics stay in their range, labels are typeset, fonts are readable,
the SVG next to the PNG parses, and no global matplotlib backend is switched."""

import base64
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("matplotlib")

from entangled.reports import figures
from entangled.reports.figures import Panel, Series

unit = st.floats(0.0, 1.0, allow_nan=False)


def accuracy_panel(ys, errors, chance=0.1):
    return Panel("cnn · digits", "rotation angle θ (rad)", "test accuracy",
                 [Series("mean ± 95% CI", list(range(len(ys))), ys, errors)],
                 hline=chance, hline_label="chance")


def png_size(src: str) -> tuple[int, int]:
    data = base64.b64decode(src.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@given(st.lists(st.tuples(unit, st.floats(0.0, 3.0, allow_nan=False)), min_size=1, max_size=6),
       unit)
def test_accuracy_axis_and_error_bars_stay_in_unit_interval(points, chance):
    ys, errors = [p[0] for p in points], [p[1] for p in points]
    fig = figures.draw("accuracy", [accuracy_panel(ys, errors, chance)])
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert 0.0 <= low < high <= 1.0
    for collection in ax.collections:  # the error bar segments
        for segment in collection.get_segments():
            assert all(0.0 <= y <= 1.0 for y in segment[:, 1])


def test_wide_interval_is_cut_at_the_range_known_values():
    # 0.9 ± 0.3 of an accuracy reaches down to 0.6 and up to 1, not 1.2.
    below, above = figures.clipped_errors([0.9, 0.05], [0.3, 0.2], (0.0, 1.0))
    assert below == pytest.approx([0.3, 0.05]) and above == pytest.approx([0.1, 0.2])
    assert figures.clipped_errors([0.9], [0.3], None) == [0.3]
    assert figures.clip_limits((-2.0, 3.0), (0.0, 1.0)) == (0.0, 1.0)
    assert figures.clip_limits((0.4, 0.8), (0.0, 1.0)) == (0.4, 0.8)
    assert figures.clip_limits((2.0, 3.0), (0.0, 1.0)) == (0.0, 1.0)


def test_unbounded_metric_is_not_clipped_and_explicit_range_wins():
    ratio = Panel("ratio", "application l", "‖f(h)‖ / ‖M h‖", [Series("a", [0, 1], [2.0, 5.0])])
    assert figures.metric_range(ratio) is None
    cosine = Panel("refinement cosine", "l", "$\\cos(f_l, g)$", [Series("a", [0], [0.5])])
    assert figures.metric_range(cosine) == (-1.0, 1.0)
    assert figures.draw("t", [ratio]).axes[0].get_ylim()[1] > 5.0
    ratio.yrange = (0.0, 3.0)
    assert figures.draw("t", [ratio]).axes[0].get_ylim()[1] <= 3.0


@pytest.mark.parametrize("raw, expected", [
    ("cos(f, ∂L/∂h_{l+1})", "cos(f, ∂L/∂$h_{l+1}$)"),
    ("‖M − I‖_F / √n", "‖M − I‖_F / √n"),  # no symbol before the subscript: left alone
    ("x_1 and y^{2}", "$x_1$ and $y^{2}$"),
    ("$\\cos(f_l, \\partial L / \\partial h_{l+1})$", "$\\cos(f_l, \\partial L / \\partial h_{l+1})$"),
    ("test accuracy", "test accuracy"),
    ("cost \\$5 in h_{t}", "cost \\$5 in $h_{t}$"),
])
def test_typeset_wraps_tex_fragments_outside_math(raw, expected):
    assert figures.typeset(raw) == expected


def test_every_text_is_typeset_and_readable():
    panels = [
        accuracy_panel([0.5, 0.9], [0.4, 0.3]),
        Panel("refinement cosine", "application l", "cos(f, ∂L/∂h_{l+1})",
              [Series("rotation(theta=0.5)", [0, 1, 2], [-0.2, 0.1, 0.3], marker=".")]),
        Panel("CKA", "pair (l, l+1)", "linear CKA", [Series("identity", [0, 1], [0.9, 0.95])]),
        Panel("Jacobian", "index (sorted)", "singular value",
              [Series("identity", [0, 1, 2], [3.0, 1.0, 0.1])], logy=True),
    ]
    fig = figures.draw("dynamics", panels)
    fig.canvas.draw()  # mathtext is parsed here: a malformed label raises
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text() and t.get_visible()]
    assert len(texts) > 20
    for text in texts:
        assert text.get_fontsize() >= figures.MIN_FONT_SIZE, text.get_text()
        assert figures.typeset(text.get_text()) == text.get_text(), "raw TeX left in " + text.get_text()
    assert "$h_{l+1}$" in fig.axes[1].get_ylabel()


def test_integer_x_values_get_integer_ticks():
    indices = Panel("lesion", "application l", "test accuracy", [Series("a", [0, 1, 2, 19], [0.2] * 4)])
    fig = figures.draw("t", [indices])
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if 0 <= t <= 19]
    assert ticks and all(float(t).is_integer() for t in ticks)
    angles = Panel("dose", "θ", "test accuracy", [Series("a", [0.0, 0.25, 0.5], [0.2] * 3)])
    assert not figures._integer_axis(angles)


def test_panels_are_large_and_wrap_into_rows():
    panels = [accuracy_panel([0.5], [0.1]) for _ in range(5)]
    figure = figures.panel_figure("five", "five panels", "alt", panels, columns=5,
                                  panel_size=(3.2, 2.7))
    width, height = png_size(figure.src)
    columns, rows = figures.MAX_COLUMNS, 2
    assert width >= columns * figures.PANEL_SIZE[0] * figures.PNG_DPI - 2
    assert height >= rows * figures.PANEL_SIZE[1] * figures.PNG_DPI - 2


def test_svg_is_written_next_to_the_page_and_parses(tmp_path):
    first = figures.panel_figure("dose-rotation", "Dose-response", "alt",
                                 [accuracy_panel([0.2, 0.7], [0.05, 0.5])])
    second = figures.panel_figure("distance", "Distance", "alt",
                                  [accuracy_panel([0.4], [0.1])])
    paths = figures.write_svgs([first, None, second], tmp_path / "figures")
    assert [p.name for p in paths] == ["dose-rotation.svg", "distance.svg"]
    root = ET.parse(paths[0]).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    words = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Dose-response" in words and "test accuracy" in words  # text kept as text


def test_no_global_backend_switch_and_no_pyplot():
    code = ("import matplotlib, sys; matplotlib.use('svg'); from entangled.reports import figures; "
            "figures.panel_figure('k', 't', 'a', [figures.Panel('p', 'x', 'test accuracy', "
            "[figures.Series('s', [0, 1], [0.2, 0.4])])]); "
            "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["svg", "False"]


def _texts(fig) -> list:
    fig.canvas.draw()
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "_preprocess_math"))
            if t.get_text() and t.get_visible()]


def test_every_family_task_and_architecture_name_renders_as_written():
    """Names with underscores (block_orthogonal, sparse_unit_norm, delayed_recall, ...) go
    through the report's figure path (titles, legends, axis labels) and come out as plain text:
    the text matplotlib draws is the name itself and is not parsed as mathtext."""
    import entangled as E
    from entangled.nn.models import architectures
    from entangled.reports import builtin_sections as sections, evidence
    from entangled.reports.stats import Summary
    from entangled.runs import SkipVariant
    from entangled.tasks import task_names

    families, tasks, archs = E.families(), task_names(), architectures()
    assert "block_orthogonal" in families and "delayed_recall" in tasks
    labels = evidence.Labels([SkipVariant(f, ()).resolve() for f in families])
    point = Summary(n=3, mean=0.8, low=0.75, high=0.85, std=0.02)
    pairs = [(archs[i % len(archs)], task) for i, task in enumerate(tasks)]
    pairs += [(arch, tasks[0]) for arch in archs]
    names_seen = []
    for family in families:  # a dose-response figure per family, every pair a panel
        sweep = {"family": family, "param": "theta", "doc": "", "chance": {}, "identity": {},
                 "identity_value": 0.0, "curves": {pair: [(0.0, point), (0.5, point), (1.0, point)]
                                                   for pair in pairs}}
        panels = sections.dose_response_panels(sweep, labels)
        # every pair in the last family's figure, the first panel in the others
        fig = figures.draw(f"Dose-response: accuracy against {family} theta",
                           panels if family == families[-1] else panels[:1])
        texts = _texts(fig)
        names_seen += [t.get_text() for t in texts]
        for text in texts:
            assert not text._preprocess_math(text.get_text())[1], text.get_text()
        shown = [t.get_text().replace("\n", " ") for t in texts]  # long titles wrap
        assert f"Dose-response: accuracy against {family} theta" in shown
        assert any(t.get_text().startswith(f"{family} theta") for t in texts)  # the x label
    # the legend of a dynamics figure: one entry per family's default variant
    panel = Panel("lesion", "application l", "test accuracy",
                  [Series(labels.variant(SkipVariant(f, ()).resolve()), [0, 1], [0.5, 0.6])
                   for f in families])
    texts = _texts(figures.draw("cnn on delayed_recall", [panel]))
    legend = [t.get_text() for t in texts]
    for family in families:
        assert any(entry == family or entry.startswith(family + "(") for entry in legend), family
    for text in texts:
        assert not text._preprocess_math(text.get_text())[1], text.get_text()
    # every architecture and task name was drawn verbatim in some panel title
    drawn = " ".join(names_seen)
    assert all(f"{arch} · " in drawn for arch in archs) and all(f" · {t}" in drawn for t in tasks)


@pytest.mark.parametrize("jobs", [1, 2])
def test_figures_drawn_together_at_the_end_are_the_figures_drawn_at_once(jobs):
    """Inside drawn_in_parallel each figure comes back empty and is filled when the block
    ends (on ``jobs`` processes), byte for byte the figure drawn at once; drawn_at_once
    inside it draws at once."""
    specs = [("one", [accuracy_panel([0.2, 0.7], [0.05, 0.5])]),
             ("two", [accuracy_panel([0.4], [0.1]) for _ in range(4)]),
             ("three", [accuracy_panel([0.6, 0.1], [0.2, 0.3])])]
    at_once = [figures.panel_figure(key, key, "alt", panels) for key, panels in specs]
    with figures.drawn_in_parallel(jobs):
        later = [figures.panel_figure(key, key, "alt", panels) for key, panels in specs]
        assert all(f.src == "" and f.svg == "" for f in later)
        with figures.drawn_at_once():
            now = figures.panel_figure("one", "one", "alt", specs[0][1])
        assert now.src == at_once[0].src
    assert [(f.src, f.svg) for f in later] == [(f.src, f.svg) for f in at_once]
