"""Adaptive learning-rate tuning on validation: stop training grid points that are clearly
behind, and measure on stored results what that would have saved and changed.

The full grid (:mod:`entangled.reports.tuning`) trains every learning rate of ``lr_grid`` for
every seed to the end and selects, per (architecture, task, mapping, budget), the rate with
the best **mean validation score over seeds** — a run's score being its best validation
accuracy over its evaluations (the selected checkpoint), the task's chance accuracy when it
diverged — ties to the smaller rate. A pruning *policy* looks at the validation curves of the
grid points still running after each evaluation and returns the points to go on with; the
dropped points stop training and are no longer candidates (a point whose runs have all
finished — early stopping, divergence — costs nothing more and is never dropped). The
adaptive selection is the same rule applied to the points that were never dropped.

**What "equals the full grid's selection" requires.** The adaptive selection equals the full
grid's exactly when the policy never drops the full grid's winner (every other survivor has a
lower mean final score, or an equal one at a larger rate). A rule that is *guaranteed* never to
drop the winner has to prove that a point cannot win: its best possible final mean must be
below the leader's. Without a model of the curves the only bound on a run still training is
accuracy 1 (a run may improve late), so such a conservative rule can drop a point only once
all its runs have finished — when dropping it saves nothing. No rule that saves training can
therefore be exact in general; the policies here are exact only under a model of the
curves, or statistical/heuristic rules; their error is that learning curves cross after the
decision (a point behind at evaluation ``e`` overtakes by the end). Its rate is *measured* by
:func:`replay` on stored full-grid results, not guaranteed; :func:`replay` reports, per
selection, whether it changed and the validation regret (full winner's mean score minus the
adaptive choice's full-run mean score).

Policies:

:class:`CatchUpPruner` (exact under a stated model of the curves): a point is dropped when,
even if each of its runs rose at every evaluation it has left by the largest rise per
evaluation that any running run of the selection has shown over its last ``window``
evaluations, its mean score would stay below the leader's mean score so far (minus
``margin``). If no run's best score rises faster than that later on (best-score curves that
flatten: the recent rises bound the future ones), the dropped point's mean final score is below the leader's mean *final* score
(which can only grow), so it cannot be the full grid's winner and the selection is exactly
the full grid's. The model is an assumption — a curve can accelerate after a plateau — so
the agreement is still measured by :func:`replay`; the rule saves most where budgets are long
and the losers have plateaued, and nothing while every curve is still rising steeply.

:class:`PairedPruner` (a unanimous paired rule across seeds): from evaluation
``min_evaluations`` on, the *leader* is the point with the best mean score so far (ties:
smaller rate); a point is dropped when on **every** seed its score so far is at least
``margin`` below the leader's on the same seed (the seeds pair the runs: same initial weights
and batch order). With ``n`` seeds, "behind on every seed" is a sign test at level
:math:`2^{-n}` of "the two points are exchangeable at this evaluation"; the margin asks the gap
to be large, not merely consistent.

:class:`SuccessiveHalving` (Jamieson & Talwalkar 2016; Li et al. 2018): at each evaluation
listed in ``rungs``, keep the best ``ceil(keep * k)`` of the ``k`` running points by mean score
so far (ties: smaller rate), at least ``min_points``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Hashable, Iterable, Mapping, Sequence

from entangled.errors import InvalidParameterError

__all__ = ["CatchUpPruner", "PairedPruner", "ReplayOutcome", "RunCurve", "StoredRun",
           "SuccessiveHalving", "continue_points", "largest_gain", "optimistic_score", "replay",
           "replay_summary", "run_score"]


# -------------------------------------------------------------------------- policies
@dataclass(frozen=True)
class PairedPruner:
    """Drop a point that is at least ``margin`` behind the leader on every seed, from
    evaluation index ``min_evaluations`` on (evaluation 0 is the untrained model)."""

    min_evaluations: int = 2
    margin: float = 0.05

    def __post_init__(self):
        _check_pruner(self)


@dataclass(frozen=True)
class CatchUpPruner:
    """Drop a point that could not catch up with the leader even if each of its runs rose,
    at every evaluation it has left, by the largest rise per evaluation that any run of the
    selection has shown in its last ``window`` evaluations (``None``: ever): the mean over
    seeds of ``min(1, score + gain * evaluations_left)`` is below the leader's mean score so
    far minus ``margin``. From evaluation ``min_evaluations`` on."""

    min_evaluations: int = 1
    margin: float = 0.0
    window: int | None = 2

    def __post_init__(self):
        _check_pruner(self)
        if self.window is not None:
            _check_int("window", self.window, 1)


@dataclass(frozen=True)
class SuccessiveHalving:
    """At each evaluation index in ``rungs``, keep the best ``ceil(keep * k)`` of ``k`` points
    (at least ``min_points``)."""

    rungs: tuple[int, ...] = (2,)
    keep: float = 0.5
    min_points: int = 2

    def __post_init__(self):
        rungs = tuple(self.rungs) if isinstance(self.rungs, (tuple, list)) else None
        if not rungs or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1
                                for r in rungs) or len(set(rungs)) != len(rungs):
            raise InvalidParameterError("rungs", self.rungs,
                                        "distinct evaluation indices of at least 1")
        object.__setattr__(self, "rungs", tuple(sorted(rungs)))
        if not (isinstance(self.keep, (int, float)) and 0 < self.keep < 1):
            raise InvalidParameterError("keep", self.keep, "a fraction strictly between 0 and 1")
        _check_int("min_points", self.min_points, 1)


POLICIES = (PairedPruner, CatchUpPruner, SuccessiveHalving)


def _check_pruner(policy) -> None:
    _check_int("min_evaluations", policy.min_evaluations, 1)
    if not (isinstance(policy.margin, (int, float)) and 0 <= policy.margin < 1):
        raise InvalidParameterError("margin", policy.margin, "a number in [0, 1)")


def _check_int(name: str, value, least: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= least):
        raise InvalidParameterError(name, value, f"an integer of at least {least}")


# ---------------------------------------------------------------------------- curves
@dataclass(frozen=True)
class RunCurve:
    """A run's validation accuracy at each evaluation so far (index 0: the untrained model;
    ``None``: an evaluation that cannot be selected, its loss not finite), whether the run
    diverged (its score is then the task's chance accuracy), whether it has finished, and how
    many evaluations it has left at most (``None``: unknown; :class:`CatchUpPruner` then keeps
    the point)."""

    accuracy: tuple[float | None, ...]
    diverged: bool = False
    finished: bool = False
    evaluations_left: int | None = None


def run_score(curve: RunCurve, chance: float) -> float:
    """The score the selection rule gives the run so far: its best selectable validation
    accuracy, or ``chance`` if it diverged (or has no selectable evaluation)."""
    values = [a for a in curve.accuracy if a is not None and math.isfinite(a)]
    if curve.diverged or not values:
        return float(chance)
    return float(max(values))


def largest_gain(curve: RunCurve, window: int | None = None) -> float | None:
    """The largest rise of the run's best score from one evaluation to the next, over its
    last ``window`` evaluations (``None``: all of them; ``None`` is returned before a rise
    can be measured)."""
    best, rises = None, []
    for a in curve.accuracy:
        if a is not None and math.isfinite(a):
            if best is not None:
                rises.append(max(0.0, a - best))
            best = a if best is None else max(best, a)
        elif best is not None:
            rises.append(0.0)  # an evaluation that cannot be selected: no rise
    recent = rises if window is None else rises[-window:]
    return max(recent) if recent else None


def optimistic_score(curve: RunCurve, chance: float, gain: float | None) -> float:
    """The run's score if it rose by ``gain`` at each evaluation it has left (capped at 1);
    its score when it has finished; ``inf`` when ``gain`` or the evaluations left are
    unknown."""
    score = run_score(curve, chance)
    if curve.finished or curve.diverged:
        return score
    if gain is None or curve.evaluations_left is None:
        return math.inf
    return min(1.0, score + gain * curve.evaluations_left)


def _mean_scores(curves: Mapping[float, Mapping[int, RunCurve]], chance: float
                 ) -> dict[float, dict[int, float]]:
    seeds = None
    scores = {}
    for lr, by_seed in curves.items():
        if seeds is None:
            seeds = set(by_seed)
        if set(by_seed) != seeds or not seeds:
            raise InvalidParameterError("curves", {k: sorted(v) for k, v in curves.items()},
                                        "the same non-empty set of seeds for every learning rate")
        scores[float(lr)] = {s: run_score(c, chance) for s, c in by_seed.items()}
    return scores


def _ranked(scores: Mapping[float, Mapping[int, float]]) -> list[float]:
    """Learning rates by mean score, best first; ties: the smaller rate first."""
    return sorted(scores, key=lambda lr: (-sum(scores[lr].values()) / len(scores[lr]), lr))


def continue_points(policy: CatchUpPruner | PairedPruner | SuccessiveHalving,
                    curves: Mapping[float, Mapping[int, RunCurve]], evaluation: int, *,
                    chance: float) -> tuple[float, ...]:
    """The learning rates (of ``curves``: the points still running) to go on with after
    evaluation index ``evaluation``, in increasing order. ``curves[lr][seed]`` holds the
    run's curve up to ``evaluation`` (a run that finished earlier: its whole curve)."""
    if not isinstance(policy, POLICIES):
        raise InvalidParameterError("policy", policy, "a CatchUpPruner, PairedPruner or SuccessiveHalving")
    _check_int("evaluation", evaluation, 0)
    if not curves:
        raise InvalidParameterError("curves", curves, "at least one learning rate")
    scores = _mean_scores(curves, chance)
    ranked = _ranked(scores)
    # a point whose runs have all finished costs nothing more: it stays a candidate
    finished = {float(lr) for lr, by_seed in curves.items()
                if all(c.finished for c in by_seed.values())}
    if isinstance(policy, SuccessiveHalving):
        if evaluation not in policy.rungs:
            return tuple(sorted(scores))
        kept = max(policy.min_points, math.ceil(policy.keep * len(ranked)))
        return tuple(sorted(set(ranked[:kept]) | finished))
    if evaluation < policy.min_evaluations:
        return tuple(sorted(scores))
    if isinstance(policy, CatchUpPruner):
        gains = [g for by_seed in curves.values() for c in by_seed.values()
                 if not c.finished and (g := largest_gain(c, policy.window)) is not None]
        gain = max(gains) if gains else None
        lead = sum(scores[ranked[0]].values()) / len(scores[ranked[0]])
        hopeless = {lr for lr in ranked[1:]
                    if sum(optimistic_score(c, chance, gain) for c in curves[lr].values())
                    / len(curves[lr]) < lead - policy.margin}
        return tuple(sorted((set(scores) - hopeless) | finished))
    leader = scores[ranked[0]]
    behind = {lr for lr in ranked[1:]
              if all(scores[lr][s] <= leader[s] - policy.margin for s in leader)}
    return tuple(sorted((set(scores) - behind) | finished))


# ---------------------------------------------------------------------- stored results
@dataclass(frozen=True)
class StoredRun:
    """What :func:`replay` needs of a stored run: its selection key (what a rate is selected
    for), rate, seed, the step and validation accuracy of every evaluation (``None``: not
    selectable), whether it diverged, the steps it trained, the task's chance accuracy and the
    evaluations its budget plans (step 0, every ``eval_every`` steps, the last step)."""

    key: Hashable
    lr: float
    seed: int
    steps: tuple[int, ...]
    accuracy: tuple[float | None, ...]
    diverged: bool
    steps_done: int
    chance: float
    evaluations_planned: int | None = None

    @classmethod
    def from_result(cls, result) -> "StoredRun":
        """From a :class:`entangled.runs.RunResult` (key: :func:`tuning.selection_key`)."""
        from entangled.reports.tuning import selection_key

        curves = result.curves
        accuracy = tuple(a if (a is not None and loss is not None) else None
                         for a, loss in zip(curves.val_accuracy, curves.val_loss))
        budget = result.spec.budget
        planned = sorted({0, int(result.steps_planned)}
                         | set(range(budget.eval_every, int(result.steps_planned) + 1,
                                     budget.eval_every)))
        return cls(selection_key(result), float(budget.lr), int(result.spec.seed),
                   tuple(int(s) for s in curves.step), accuracy, result.status != "ok",
                   int(result.steps_done), float(result.chance_accuracy), len(planned))

    def curve_at(self, evaluation: int) -> RunCurve:
        """The run as seen after evaluation index ``evaluation``."""
        done = evaluation >= len(self.accuracy) - 1
        left = (None if self.evaluations_planned is None
                else max(0, self.evaluations_planned - 1 - evaluation))
        return RunCurve(self.accuracy[:evaluation + 1], self.diverged and done, done, left)

    def steps_at(self, evaluation: int) -> int:
        """Steps trained by evaluation index ``evaluation`` (all of them once finished)."""
        if evaluation >= len(self.steps) - 1:
            return self.steps_done
        return min(self.steps[evaluation], self.steps_done)

    @property
    def final_score(self) -> float:
        return run_score(self.curve_at(len(self.accuracy)), self.chance)


@dataclass(frozen=True)
class ReplayOutcome:
    """One selection replayed: the full grid's and the adaptive choice, the evaluation index
    at which each dropped rate stopped, steps trained by the full grid and adaptively, and
    the validation regret (the full winner's mean final score minus the adaptive choice's)."""

    key: Hashable
    full_lr: float
    adaptive_lr: float
    dropped_at: dict = field(default_factory=dict)
    steps_full: int = 0
    steps_used: int = 0
    runs_full: int = 0
    regret: float = 0.0

    @property
    def equal(self) -> bool:
        return self.full_lr == self.adaptive_lr

    def to_dict(self) -> dict:
        d = asdict(self)
        d["key"] = repr(self.key)
        return {**d, "equal": self.equal}


def replay(policy: CatchUpPruner | PairedPruner | SuccessiveHalving, runs: Iterable[StoredRun]
           ) -> list[ReplayOutcome]:
    """Replay ``policy`` on stored full-grid runs, one outcome per selection key with more
    than one learning rate: which rates it would have dropped when, what it selects among the
    rest (the rule of :func:`tuning.select_learning_rates`), and the steps it would have
    trained. Every rate of a key must have the same seeds."""
    groups: dict[Hashable, dict[float, dict[int, StoredRun]]] = {}
    for run in runs:
        groups.setdefault(run.key, {}).setdefault(run.lr, {})[run.seed] = run
    out = []
    for key, by_lr in groups.items():
        if len(by_lr) < 2:
            continue
        if len({frozenset(by_seed) for by_seed in by_lr.values()}) != 1:
            raise InvalidParameterError("runs", {lr: sorted(v) for lr, v in by_lr.items()},
                                        f"the same seeds for every learning rate of {key!r}")
        chance = next(iter(next(iter(by_lr.values())).values())).chance
        final = {lr: {s: r.final_score for s, r in by_seed.items()}
                 for lr, by_seed in by_lr.items()}
        full_lr = _ranked(final)[0]
        last = max(len(r.accuracy) for by_seed in by_lr.values() for r in by_seed.values()) - 1
        running, dropped = set(by_lr), {}
        for evaluation in range(last + 1):
            curves = {lr: {s: r.curve_at(evaluation) for s, r in by_lr[lr].items()}
                      for lr in running}
            keep = set(continue_points(policy, curves, evaluation, chance=chance))
            for lr in running - keep:
                dropped[lr] = evaluation
            running = keep
        adaptive_lr = _ranked({lr: final[lr] for lr in running})[0]
        steps_full = sum(r.steps_done for by_seed in by_lr.values() for r in by_seed.values())
        steps_used = sum(r.steps_at(dropped[lr]) if lr in dropped else r.steps_done
                         for lr, by_seed in by_lr.items() for r in by_seed.values())
        mean = {lr: sum(v.values()) / len(v) for lr, v in final.items()}
        out.append(ReplayOutcome(key, full_lr, adaptive_lr, dropped, steps_full, steps_used,
                                 sum(len(v) for v in by_lr.values()),
                                 mean[full_lr] - mean[adaptive_lr]))
    return out


def replay_summary(outcomes: Sequence[ReplayOutcome]) -> dict:
    """Selections replayed, how many equal the full grid's, steps trained against the full
    grid's, their fraction, and the largest validation regret."""
    full = sum(o.steps_full for o in outcomes)
    used = sum(o.steps_used for o in outcomes)
    return {"selections": len(outcomes), "equal": sum(o.equal for o in outcomes),
            "steps_full": full, "steps_used": used,
            "fraction": used / full if full else math.nan,
            "max_regret": max((o.regret for o in outcomes), default=0.0)}
