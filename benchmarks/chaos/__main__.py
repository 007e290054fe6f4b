"""``python -m benchmarks.chaos``: the chaos run of issue 12, saved as ``benchmarks/results/chaos-<provider>.md`` + PNG.

    uv run python -m benchmarks.chaos --services 80 --fault-rate 0.1 --kills 15 --seed 1 --provider aws

Seeded: the Services, which requests fail and the generated Services are the same for
the same seed; the moments of the kills follow the controller's writes, so timings vary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.chaos import report
from benchmarks.chaos.results import RunSettings
from benchmarks.chaos.runner import ChaosRun

ROOT = Path(__file__).resolve().parents[2]


def measured_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "cloudlb", "providers")
    return head + (" (with local changes to cloudlb/ or providers/)" if dirty else "")


def parse(argv: list[str] | None) -> tuple[RunSettings, Path, Path | None]:
    defaults = RunSettings()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", choices=("aws", "gcp"), default=defaults.provider)
    parser.add_argument("--services", type=int, default=defaults.services)
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate, help="cloud requests that fail")
    parser.add_argument("--kube-fault-rate", type=float, default=defaults.kube_fault_rate,
                        help="API-server requests answered 500")
    parser.add_argument("--kube-conflict-rate", type=float, default=defaults.kube_conflict_rate,
                        help="API-server PATCH/PUT requests answered 409 Conflict")
    parser.add_argument("--watch-cut-rate", type=float, default=defaults.watch_cut_rate,
                        help="watch events cut in half, the stream reset")
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--fuzz", type=int, default=defaults.fuzz, help="generated Services through the controller")
    parser.add_argument("--fuzz-batch", type=int, default=defaults.fuzz_batch)
    parser.add_argument("--nodes", type=int, default=defaults.nodes)
    parser.add_argument("--apiserver-restarts", type=int, default=defaults.apiserver_restarts)
    parser.add_argument("--no-gc", action="store_true", help="skip the garbage-collection phase (about 2.5 min)")
    parser.add_argument("--sample-seconds", type=float, default=defaults.sample_seconds)
    parser.add_argument("--converge-timeout", type=float, default=defaults.converge_timeout)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--logs", type=Path, default=None, help="keep the logs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    settings = RunSettings(provider=args.provider, services=args.services, fault_rate=args.fault_rate,
                           kube_fault_rate=args.kube_fault_rate, kube_conflict_rate=args.kube_conflict_rate,
                           watch_cut_rate=args.watch_cut_rate, kills=args.kills,
                           seed=args.seed, fuzz=args.fuzz, fuzz_batch=args.fuzz_batch, nodes=args.nodes,
                           apiserver_restarts=args.apiserver_restarts, garbage_collection=not args.no_gc,
                           sample_seconds=args.sample_seconds, converge_timeout=args.converge_timeout)
    return settings, args.out, args.logs


def main(argv: list[str] | None = None) -> None:
    settings, out, logs = parse(argv)
    command = "python -m benchmarks.chaos " + " ".join(sys.argv[1:] if argv is None else argv)
    commit = measured_commit()  # before the run: the branch may move while it runs
    with tempfile.TemporaryDirectory(prefix="cloudlb-chaos-") as scratch:
        result = ChaosRun(settings, logs or Path(scratch), log=lambda line: print(line, flush=True)).run()
    result.commit = commit
    out.mkdir(parents=True, exist_ok=True)
    text = report.markdown(result, command)
    (out / f"chaos-{settings.provider}.md").write_text(text)
    report.plot(result, out / f"chaos-{settings.provider}.png")
    print(text)


if __name__ == "__main__":
    main()
