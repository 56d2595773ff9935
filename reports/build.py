"""Assemble the report: run the suite, check the conjectures, gather the evidence, write the
page.

:func:`make_report` trains the suite through the resumable sweep (:func:`run_suite`), checks
the conjecture catalog (:func:`conjecture_ledger`, cached), gathers everything the page shows
into one :class:`~entangled.reports.evidence.Evidence` object
(:func:`entangled.reports.evidence.gather`), renders the page as a loop over the registered
sections (:mod:`entangled.reports.page`, :mod:`entangled.reports.builtin_sections`) and writes
``index.html``, the figures' SVG files and ``summary.json``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from entangled.runs import RunResult, finite_or_none
from entangled.reports import presets

if TYPE_CHECKING:
    from entangled.reports.analysis import Outcome

LOGGER = logging.getLogger(__name__)


def log(message: str) -> None:
    """A progress note of the report (``INFO`` on the ``entangled.reports.build`` logger)."""
    LOGGER.info(message)


# --------------------------------------------------------------------------- runs
def run_suite(preset: presets.Suite, out_dir: Path, jobs: int, progress: bool,
              until_decided: bool = False, **sweep_options):
    """Run (or resume) the suite's sweep in ``out_dir/runs``; return its typed results (in
    suite order), the :class:`~entangled.sweep.SweepSummary` and, with ``until_decided`` and a
    suite with a ``[sequential]`` table, the :class:`~entangled.reports.staged.StagedOutcome`
    (else ``None``).

    ``sweep_options`` (``executor``, ``scheduler``, ``shard``, ``seed_batching``) go to :func:`run_sweep`."""
    from entangled.sweep import SweepSummary, load_results, run_sweep

    if not (until_decided and preset.sequential):
        configs = presets.run_configs(preset)
        summary = run_sweep(configs, out_dir / "runs", jobs=jobs, progress=progress,
                            **sweep_options)
        wanted = set(summary.hashes)
        results = [r for r in load_results(out_dir / "runs") if r.config_hash in wanted]
        return results, summary, None

    from entangled.reports import analysis, learnability, staged
    from entangled.reports.evidence import fixed_lr_results
    from entangled.sweep.workers import shared_workers

    merged = SweepSummary(str(out_dir / "runs"))
    wanted_hashes: list[str] = []
    # the stages' runs share one set of worker processes (not started again per stage)
    workers = shared_workers(sweep_options.pop("executor", "local"), jobs)

    def run(configs: list) -> list[RunResult]:
        summary = run_sweep(configs, out_dir / "runs", jobs=jobs, progress=progress,
                            executor=executor, **sweep_options)
        _merge_summaries(merged, summary)
        seen = set(wanted_hashes)
        wanted_hashes.extend(h for h in summary.hashes if h not in seen)
        keep = set(wanted_hashes)
        return [r for r in load_results(out_dir / "runs") if r.config_hash in keep]

    def tuned_rows(results: list[RunResult]) -> list[Outcome]:
        return analysis.outcomes(results)

    def unlearnt(results: list[RunResult]) -> list[tuple]:
        rows = analysis.outcomes(fixed_lr_results(preset, results))
        return [u.pair for u in learnability.unlearnt_pairs(
            rows, learnability.memoryless_levels(results))]

    with workers as executor:
        outcome = staged.run_staged(preset, run, outcome_rows=tuned_rows, unlearnt=unlearnt,
                                    log=log)
    return outcome.results, merged, outcome


def _merge_summaries(into, summary) -> None:
    """Add what one sweep call did to ``into`` (counts summed, lists joined, hashes once)."""
    into.total += summary.total
    into.skipped += summary.skipped
    into.ran += summary.ran
    into.done_elsewhere += summary.done_elsewhere
    into.wall_time_s += summary.wall_time_s
    for name in ("failed", "corrupt", "stale", "superseded", "diverged", "ran_hashes",
                 "claimed_elsewhere"):
        getattr(into, name).extend(getattr(summary, name))
    seen = set(into.hashes)
    into.hashes.extend(h for h in summary.hashes if h not in seen)


# ------------------------------------------------------------------------ ledger
def ledger_key(paths: Sequence[str], examples: int, seed: int) -> str:
    """Cache key of a ledger (:func:`entangled.theory.ledger.ledger_cache_key`)."""
    from entangled.theory.ledger import ledger_cache_key

    return ledger_cache_key(paths, examples, seed)


def conjecture_ledger(paths: Sequence[str], examples: int, out_dir: Path, seed: int = 0,
                      jobs: int = 1) -> dict:
    """The ledger as a dict, cached by :func:`ledger_key` in the user-level cache
    (:mod:`entangled.cache`, ``ledger/``), so that a new output directory reuses it; only
    where that cache cannot be written, in ``out_dir``. Of several reports needing the same
    missing ledger at once, one computes it and the others wait for it. ``jobs``: child
    processes checking at once (the ledger is the same for any number)."""
    from entangled import cache as user_cache
    from entangled import theory
    from entangled.atomic_io import dumps_json, loads_json
    from entangled.theory.ledger import dependencies_current

    name = f"ledger-{ledger_key(paths, examples, seed)}.json"
    slot = user_cache.entry("ledger", name)
    fallback = user_cache.Entry(out_dir / name)
    with slot.locked():
        for where in (slot, fallback):
            payload = where.read()
            if payload is None:
                continue
            try:
                cached = theory.Ledger.from_dict(loads_json(payload))
                if dependencies_current(cached.dependencies):
                    return cached.to_dict()
                log(f"report: a module behind the cached ledger {where.path} changed; "
                    "checking again")
            except (ValueError, KeyError, TypeError) as exc:
                log(f"report: cached ledger {where.path} is unreadable ({exc}); checking again")

        def progress(index: int, total: int, entry) -> None:
            log(f"  conjectures {index}/{total}: {entry.conjecture} [{entry.family}] -> "
                f"{entry.verdict}")

        log(f"report: checking conjectures ({examples} examples each)")
        ledger = theory.verify(list(paths), examples=examples, seed=seed, progress=progress,
                               jobs=jobs)
        data = ledger.to_dict()
        payload = dumps_json(data).encode("utf-8")
        if not slot.write(payload):
            fallback.write(payload)
    return data


def report_dir(preset: presets.Suite, out_dir: str | os.PathLike | None) -> Path:
    """``out_dir``, or ``reports/out/<suite name>`` under the current directory (the name
    must be one path component: :func:`entangled.atomic_io.check_path_name`)."""
    from entangled.atomic_io import check_path_name

    if out_dir is not None:
        return Path(out_dir)
    return Path("reports") / "out" / check_path_name(preset.name, "suite name")


def _suite(preset_name: str, suite: presets.Suite | str | os.PathLike | None) -> presets.Suite:
    if suite is None:
        return presets.get_preset(preset_name)
    if isinstance(suite, presets.Suite):
        return suite
    return presets.load_suite(Path(suite))


def train_shard(preset_name: str, out_dir: str | os.PathLike | None, shard: str, *,
                jobs: int | None = None, progress: bool = True, executor: str = "local",
                scheduler: str | None = None,
                suite: presets.Suite | str | os.PathLike | None = None,
                seed_batching: str | None = None):
    """Train only shard ``shard`` (``"I/N"``) of the suite's runs into ``out_dir/runs``;
    render nothing. Returns the :class:`~entangled.sweep.SweepSummary`."""
    from entangled.sweep import run_sweep

    preset = _suite(preset_name, suite)
    seed_batching = seed_batching or preset.seed_batching
    out = report_dir(preset, out_dir)
    log(f"report: suite {preset.name!r}, shard {shard} -> {out / 'runs'}")
    return run_sweep(presets.run_configs(preset), out / "runs",
                     jobs=jobs or max(1, os.cpu_count() or 1), progress=progress,
                     executor=executor, scheduler=scheduler, shard=shard,
                     seed_batching=seed_batching)


GENERATOR = "entangled report"


@contextlib.contextmanager
def output_directory(out: Path):
    """Prepare ``out`` for a report and hold its lock while the block runs.

    Clear errors (never a traceback) for a path that is a file or not writable; refuses an
    ``index.html`` that this tool did not write; a second report on the same directory
    refuses with the pid of the one that holds the lock (``.report.lock``, released when the
    holder exits, however it exits).
    """
    import fcntl

    from entangled.atomic_io import open_lock_file
    from entangled.errors import InvalidParameterError

    if out.exists() and not out.is_dir():
        raise InvalidParameterError("--out", str(out), "a directory (this path is a file)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError("--out", str(out), f"a directory that can be created ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InvalidParameterError("--out", str(out), "a writable directory")
    _check_output_files(out)
    lock_path = out / ".report.lock"
    try:
        fd = open_lock_file(lock_path)
    except OSError as exc:
        raise InvalidParameterError("--out", str(out), f"a directory whose {lock_path.name} is "
                                    f"a regular file the report can open ({exc})") from None
    handle = os.fdopen(fd, "r+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read(64).strip() or "?"
            raise InvalidParameterError(
                "--out", str(out), f"a directory no other report is writing to (another "
                f"entangled report, pid {holder}, holds {lock_path}; wait for it or choose "
                "another --out)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield out
    finally:
        handle.close()


#: Files a report writes at the top of its directory (each must be a regular file or absent).
OUTPUT_FILES = ("index.html", "summary.json", "history.json")
#: Folders a report creates in its directory (each must be a real folder or absent).
OUTPUT_DIRS = ("runs", "figures")


def _check_output_files(out: Path) -> None:
    """Refuse, before anything trains, an output directory where a file the report writes is
    a symlink, a directory or another special file, or where ``index.html`` was not written
    by this tool."""
    from entangled.atomic_io import describe_file_type, make_private_dir, read_limited
    from entangled.errors import InvalidParameterError

    for name in OUTPUT_FILES:
        path = out / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            raise InvalidParameterError(
                "--out", str(out), f"a directory where {name} is a regular file or absent "
                f"({path} is {describe_file_type(mode)}; move it away)")
    index = out / "index.html"
    if index.exists():
        try:
            head = read_limited(index, 64 * 2**20)[:4096].decode("utf-8", "replace")
        except OSError as exc:
            raise InvalidParameterError("--out", str(out), f"a directory whose index.html can "
                                        f"be read ({exc})") from None
        if f'<meta name="generator" content="{GENERATOR}">' not in head:
            raise InvalidParameterError(
                "--out", str(out), "a directory without an index.html, or one written by "
                "entangled report (this index.html was not written by it; move it away or "
                "choose another --out)")
    for name in OUTPUT_DIRS:
        if not os.path.lexists(out / name):
            continue
        try:
            make_private_dir(out / name)
        except OSError as exc:
            raise InvalidParameterError("--out", str(out), f"a directory where {name}/ is a "
                                        f"folder of its own ({exc})") from None


def build_report(preset_name: str = "quick", out_dir: str | os.PathLike | None = None, *,
                 conjecture_paths: Sequence[str] = (), jobs: int | None = None,
                 progress: bool = True, executor: str = "local",
                 scheduler: str | None = None,
                 suite: presets.Suite | str | os.PathLike | None = None) -> Path:
    """Run a suite (resuming finished runs) and write ``index.html``; return its path.

    ``suite`` is a :class:`~entangled.reports.presets.Suite` or the path of a suite TOML file; without
    it the built-in suite ``preset_name`` runs. The suite is validated before the output
    directory is touched. ``executor``/``scheduler``: where the runs execute
    (:func:`entangled.sweep.run_sweep`).
    """
    return make_report(_suite(preset_name, suite), out_dir, conjecture_paths=conjecture_paths,
                       jobs=jobs, progress=progress, executor=executor,
                       scheduler=scheduler).index


@dataclass
class ReportOutcome:
    """What a report invocation produced (for the terminal summary and the exit status)."""

    index: Path
    findings: list
    mismatches: list[dict]
    runs: dict
    sweep: Any
    wall_time_s: float
    protocol: str = "fixed learning rate"
    unconfirmed: list = field(default_factory=list)

    def terminal_summary(self) -> str:
        """A few lines: F1-F3 verdicts, conjecture mismatches, invalid/rerun/failed runs."""
        from entangled.reports.fragility import with_fragility

        lines = [f"report: {self.index}", f"  findings ({self.protocol}):"]
        marked = with_fragility([j.to_dict() for j in self.findings])
        for j, data in zip(self.findings, marked):
            fragile = data["fragility"]
            note = f" ({fragile['text']}: {fragile['comparison']})" if fragile else ""
            lines.append(f"  {j.finding.key:<3} {j.verdict:<14} {j.finding.claim}{note}")
        r = self.runs
        lines.append(f"  runs: {r['loaded']}/{r['expected']} loaded ({r['reused']} reused, "
                     f"{r['ran']} trained now, {r['rerun']} rerun: {r['invalid']} invalid and "
                     f"{r['stale']} stale files moved aside; {r['superseded']} superseded; "
                     f"{r['failed']} failed)")
        for failure in self.sweep.failed:
            lines.append(f"    failed {failure['hash']} {failure['label']}: {failure['error']}")
        for entry in self.sweep.corrupt + self.sweep.stale:
            lines.append(f"    set aside {entry['moved_to']}: {entry['reason']}")
        if self.mismatches:
            lines.append(f"  conjectures: {len(self.mismatches)} verdict(s) differ from the "
                         "expectation:")
            for m in self.mismatches:
                lines.append(f"    {m['conjecture']} [{m['family']}]: {m['verdict']}, expected "
                             f"{m['expected']}")
        else:
            lines.append("  conjectures: every verdict matches its expectation")
        if self.unconfirmed:
            first = self.unconfirmed[0]
            lines.append(f"  conjectures: {len(self.unconfirmed)} expected falsification(s) not "
                         f"found with this suite's {first['examples']} examples per family (the "
                         f"catalog checks them with up to {max(u['catalog_examples'] for u in self.unconfirmed)}); "
                         "not counted as mismatches (raise conjecture_examples to check them):")
            for u in self.unconfirmed:
                lines.append(f"    {u['conjecture']} [{u['family']}]: {u['verdict']} at "
                             f"{u['examples']} examples, catalog {u['catalog_examples']}")
        return "\n".join(lines)


def make_report(preset: presets.Suite, out_dir: str | os.PathLike | None = None, *,
                conjecture_paths: Sequence[str] = (), jobs: int | None = None,
                progress: bool = True, executor: str = "local",
                scheduler: str | None = None, seed_batching: str | None = None,
                until_decided: bool = True) -> ReportOutcome:
    """:func:`build_report` for a parsed suite, returning the :class:`ReportOutcome`.
    ``seed_batching``: see :func:`entangled.sweep.run_sweep` (``None``: the suite's own
    ``seed_batching``); ``until_decided``: run the
    suite's ``[sequential]`` design (stages of seeds for the primary comparisons still open,
    :mod:`entangled.reports.staged`) — without that table, or with ``False``, every run of the
    suite once (a fixed design)."""
    out = report_dir(preset, out_dir)
    with output_directory(out):
        return _build(preset, out, conjecture_paths, jobs, progress, executor, scheduler,
                      seed_batching or preset.seed_batching, until_decided)


HISTORY_FILE = "history.json"
HISTORY_KEEP = 50


def record_invocation(out: Path, entry: dict) -> list[dict]:
    """Append this invocation to ``out/history.json`` (the last 50 are kept) and return the
    history, newest last. Each entry has its own wall times, separate from the runs' own
    recorded training times (a cached rerun does not overwrite the run that did the work)."""
    from entangled.atomic_io import loads_json, read_limited, write_json_atomic

    path = out / HISTORY_FILE
    history: list[dict] = []
    if path.exists():
        try:
            loaded = loads_json(read_limited(path))
            history = [h for h in loaded if isinstance(h, dict)] if isinstance(loaded, list) else []
        except (OSError, ValueError):
            history = []
    history = (history + [entry])[-HISTORY_KEEP:]
    write_json_atomic(path, finite_or_none(history))
    return history


def complete_invocation(out: Path, timings: dict) -> None:
    """Give this invocation's entry in ``out/history.json`` (the last one, written before the
    page was drawn) its full wall time and the time spent drawing the figures and page."""
    from entangled.atomic_io import loads_json, read_limited, write_json_atomic

    path = out / HISTORY_FILE
    try:
        history = loads_json(read_limited(path))
    except (OSError, ValueError):
        return
    if isinstance(history, list) and history and isinstance(history[-1], dict):
        history[-1].update(wall_time_s=timings["total"], render_s=timings["render"])
        write_json_atomic(path, finite_or_none(history))


def _build(preset: presets.Suite, out: Path, conjecture_paths: Sequence[str],
           jobs: int | None, progress: bool, executor: str = "local",
           scheduler: str | None = None, seed_batching: str = "auto",
           until_decided: bool = True) -> ReportOutcome:
    from entangled.reports import evidence as evidence_module
    from entangled.reports import builtin_sections, figures, page
    from entangled.atomic_io import write_json_atomic, write_text_atomic

    jobs = jobs or max(1, os.cpu_count() or 1)
    started = time.perf_counter()
    where = "on Dask" if executor == "dask" else f"{jobs} worker{'s' if jobs > 1 else ''}"
    log(f"report: preset {preset.name!r} -> {out} ({where})")
    t0 = time.perf_counter()
    results, sweep_summary, staged_outcome = run_suite(
        preset, out, jobs, progress, until_decided, executor=executor, scheduler=scheduler,
        seed_batching=seed_batching)
    sweep_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    ledger = conjecture_ledger(conjecture_paths, preset.conjecture_examples, out,
                               jobs=1 if executor == "dask" else jobs)
    ledger_seconds = time.perf_counter() - t0

    log("report: analysing and rendering")
    ev = evidence_module.gather(
        preset, out, results, sweep_summary, ledger, conjecture_paths=conjecture_paths,
        staged_outcome=staged_outcome,
        timings={"sweep": sweep_seconds, "ledger": ledger_seconds}, started=started,
        record=lambda entry: record_invocation(out, entry))
    placed = page.fragments(ev, jobs=1 if executor == "dask" else jobs)
    figures.write_svgs([f for _, fragment in placed for f in fragment.figures], out / "figures")
    html = page.render_page(ev, placed, builtin_sections.header(ev), ev.labels)
    index = out / "index.html"
    write_text_atomic(index, html)
    # the page shows the invocation up to its analysis; the figures and the page itself
    # are drawn after that, so the full time goes into summary.json and history.json
    ev.timings["render"] = time.perf_counter() - started - ev.timings["total"]
    ev.timings["total"] = time.perf_counter() - started
    complete_invocation(out, ev.timings)
    write_json_atomic(out / "summary.json", finite_or_none(evidence_module.summary_data(ev)))
    log(f"report: done in {ev.timings['total']:.1f} s")
    return ReportOutcome(index, ev.findings, ev.mismatches, ev.runs, sweep_summary,
                         ev.timings["total"], ev.protocol, ev.unconfirmed)
