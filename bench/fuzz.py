"""The long schemathesis run (issue 19): every operation of ``/openapi.json`` on the every-API fuzz stack of
``tests/test_fuzz.py`` (tests/support/fuzz_stack.py), in process over ASGI, with every phase: the document's examples,
its coverage cases, many fuzzed cases per operation, and stateful sequences along the links schemathesis infers (a
created vector store's id used by its files, search, delete ...). The checks of the CI test fail it, plus two that
report only: ``negative_data_rejection`` (see bench/README.md) and the stateful ``use_after_free`` /
``ensure_resource_availability``. Progress goes to stderr; the summary tables and each distinct failure to stdout.

    .venv/bin/python bench/fuzz.py                         # 100 cases per operation and mode, all phases (minutes)
    .venv/bin/python bench/fuzz.py --max-examples 20 --phases coverage,fuzzing --seed 7
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack_test_plugin  # noqa: E402
from fuzz_stack import CHECKS, every_api_config, run_schemathesis, schemathesis_config  # noqa: E402
from gateway_overhead import print_table  # noqa: E402

from llama_stack_core.config.loader import parse_run_config  # noqa: E402
from llama_stack_core.plugins import PluginManager  # noqa: E402
from llama_stack_core.server.app import create_app  # noqa: E402

#: Checks that are reported but do not fail the run (bench/README.md says why).
REPORTED_ONLY = ("negative_data_rejection", "use_after_free", "ensure_resource_availability")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=100, help="fuzzed cases per operation and mode")
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--time-limit", type=float, default=1800, help="stop after this many seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        pm = PluginManager(extra_plugins=[stack_test_plugin])
        app = create_app(parse_run_config(every_api_config(Path(directory))), pm)
        config = schemathesis_config(
            seed=args.seed,
            max_examples=args.max_examples,
            phases=tuple(args.phases.split(",")),
            checks=(*CHECKS, *REPORTED_ONLY),
        )
        print(f"fuzzing: {args.phases}, {args.max_examples} cases per operation, seed {args.seed}", file=sys.stderr)
        started = time.monotonic()
        report = run_schemathesis(app, config, budget_seconds=args.time_limit)
        print(f"done in {time.monotonic() - started:.0f} s", file=sys.stderr)

    statuses = sorted({status for _, status in report.statuses})
    answered = sum(report.statuses.values())
    accepted = sum(n for (_, status), n in report.statuses.items() if status < 300)
    print(
        f"{len(report.operations)} of {len(report.documented)} operations tested, {answered} requests, "
        f"{accepted / max(answered, 1):.0%} answered 2xx (statuses seen: {', '.join(map(str, statuses))}), "
        f"{report.seconds:.0f} s{' (cut short by --time-limit)' if report.cut_short else ''}\n"
    )
    print_table(
        ("phase", "cases", "seconds"),
        [(phase, f"{report.cases[phase]:,}", f"{report.phase_seconds[phase]:.0f}") for phase in sorted(report.cases)],
    )
    print()
    rows = []
    for check, checked, failed in report.summary_rows():
        distinct = sum(1 for key in report.failures if key[1] == check)
        operations = len({key[0] for key in report.failures if key[1] == check})
        role = "reported" if check in REPORTED_ONLY else "fails CI"
        rows.append((check, role, f"{checked:,}", f"{failed:,}", str(distinct), str(operations)))
    print_table(("check", "role", "responses checked", "failed", "distinct failures", "operations"), rows)
    for error in report.errors:
        print(f"\nerror: {error}")
    failing = [f for f in report.failures.values() if f.check not in REPORTED_ONLY]
    for failure in sorted(report.failures.values(), key=lambda f: (f.check in REPORTED_ONLY, f.check, f.operation)):
        print(f"\n{failure.describe()}")
    return 1 if failing or report.errors or report.untested() else 0


if __name__ == "__main__":
    sys.exit(main())
