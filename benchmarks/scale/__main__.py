"""``python -m benchmarks.scale``: the scale scenarios for AWS and/or GCP, saved as Markdown, JSON and PNG.

    python -m benchmarks.scale --provider both --sizes 10,100
    python -m benchmarks.scale --provider aws --sizes 1000     # merged with the sizes saved before

Results go to ``<out>/scale-<provider>.md`` (tables), ``.json`` (the raw figures; sizes not run
again are kept) and ``-calls.png`` / ``-ratio.png`` (plots against N, log scale).
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.scale import report
from benchmarks.scale import results as r
from benchmarks.scale.runner import RunSettings, run_size

ROOT = Path(__file__).resolve().parents[2]
FULL_SIZES = (10, 100, 1000)


def measured_commit() -> str:
    """HEAD, and the commit that last changed the code under measurement (marked when it has local changes)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    try:
        head = git("rev-parse", "--short", "HEAD")
        code = git("log", "-1", "--format=%h", "--", "cloudlb", "providers")
        changed = git("status", "--porcelain", "--", "cloudlb", "providers")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (cloudlb/ and providers/ as of {code}{' with local changes' if changed else ''})"


def write_report(provider: str, sizes: list[r.SizeResult], out: Path) -> str:
    """``scale-<provider>.md`` and the two plots, from every size measured; returns the Markdown."""
    text = report.markdown(provider, sizes)
    (out / f"scale-{provider}.md").write_text(text)
    report.plot(provider, sizes, out)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", choices=("aws", "gcp", "both"), default="both")
    parser.add_argument("--sizes", default="10,100", help="comma-separated numbers of Services (default 10,100)")
    parser.add_argument("--full", action="store_true", help=f"sizes {','.join(map(str, FULL_SIZES))}")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--steady-periods", type=int, default=2, help="no-change re-sync periods to average")
    parser.add_argument("--quiet", type=float, default=1.5, help="seconds without a cloud call that mean idle")
    parser.add_argument("--timeout", type=float, default=None, help="per scenario (default 120 s + 3 s per Service)")
    parser.add_argument("--report-only", action="store_true", help="measure nothing: render the saved JSON again")
    args = parser.parse_args(argv)
    sizes = list(FULL_SIZES) if args.full else [int(s) for s in args.sizes.split(",")]
    providers = ["aws", "gcp"] if args.provider == "both" else [args.provider]
    if args.report_only:
        for provider in providers:
            write_report(provider, r.load(args.out / f"scale-{provider}.json"), args.out)
        return
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C: the controller and the cloud process are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("benchmarks.scale").setLevel(logging.INFO)  # progress, scenario by scenario
    logs = Path(tempfile.mkdtemp(prefix="cloudlb-scale-"))
    print(f"logs of the emulated clouds and the controller: {logs}", flush=True)
    commit = measured_commit()
    for provider in providers:
        saved, text = args.out / f"scale-{provider}.json", ""
        for services in sizes:
            print(f"{provider}, N = {services} ...", flush=True)
            settings = RunSettings(logs=logs / f"{provider}-{services}", commit=commit, quiet=args.quiet,
                                   steady_periods=args.steady_periods, timeout=args.timeout)
            size = run_size(provider, services, settings)
            print(report.scenario_table(size), flush=True)
            # Saved at once, with the report: a larger size may run for hours, or be stopped.
            r.save(saved, r.merged(r.load(saved), [size]))
            text = write_report(provider, r.load(saved), args.out)
        print(text)


if __name__ == "__main__":
    main()
