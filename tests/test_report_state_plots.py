"""The report plots the state norm over time and, for the RNN, the saturated fraction."""

from entangled.runs import MetricSnapshot
from entangled.reports import builtin_sections as sections, evidence
from run_fakes import fake_result


def _result(arch, family, seed, norms, saturated):
    task = "parity" if arch == "rnn" else "digits"
    result = fake_result({"arch": arch, "task": task, "family": family, "seed": seed})
    snap = MetricSnapshot(state_norms=norms, saturated_fraction=saturated)
    result.metrics = {"init": snap, "final": snap}
    return result


def test_state_norm_and_saturation_panels(monkeypatch):
    captured = {}

    def fake_panel_figure(key, title, alt, panels, **kw):
        captured[key] = panels
        return key

    monkeypatch.setattr(sections.figures, "panel_figure", fake_panel_figure)
    results = [_result("rnn", "identity", s, [0.0, 10.0, 20.0], [0.5, 0.7]) for s in (0, 1)]
    results += [_result("rnn", "orthogonal", 0, [0.0, 5.0, 6.0], [0.1, 0.3])]
    results += [_result("cnn", "identity", 0, [3.0, 4.0], None)]
    entries = evidence.dynamics(results)
    sections.dynamics_figures(entries, evidence.Labels(r.spec.skip for r in results))
    rnn = {p.title: p for p in captured["dynamics-rnn"]}
    norms = {s.label: s for s in rnn["state norm at init"].series}
    assert norms["identity"].ys == [0.0, 10.0, 20.0] and norms["orthogonal"].ys == [0.0, 5.0, 6.0]
    saturated = {s.label: s for s in rnn["saturated tanh units at init"].series}
    assert saturated["identity"].ys == [0.5, 0.7] and saturated["identity"].xs == [0, 1]
    cnn = {p.title for p in captured["dynamics-cnn"]}
    assert "state norm at init" in cnn and "saturated tanh units at init" not in cnn
