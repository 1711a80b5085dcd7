"""``stack eval run`` and ``stack eval report``: their arguments. The commands import their modules when run, so
``stack --help`` stays fast."""

from __future__ import annotations

import argparse


def cmd_eval_run(args: argparse.Namespace) -> int:
    from .eval_run import cmd_eval_run as run

    return run(args)


def cmd_eval_report(args: argparse.Namespace) -> None:
    from .eval_report import cmd_eval_report as report

    report(args)


def add_eval_commands(evaluate: argparse.ArgumentParser) -> None:
    eval_commands = evaluate.add_subparsers(dest="eval_command", required=True, metavar="SUBCOMMAND")
    sub = eval_commands.add_parser(
        "run",
        help="Run a model over a benchmark as an eval job: progress, aggregates, optional JSONL of every row.",
        description="Run a model over a registered benchmark as an eval job, on a running server (--url, the "
        "default: $LLAMA_STACK_URL or http://localhost:8321) or in this process (--config / --distro). Shows a "
        "progress bar on stderr, prints each scoring function's aggregates, and with --output writes every row "
        "(input, generation, scores) and a summary as JSON lines. Ctrl-C cancels the job (exit 130); exit 1 when "
        "the job fails, 2 when it cannot start.",
    )
    sub.add_argument("benchmark_id", metavar="BENCHMARK", help="The benchmark id.")
    sub.add_argument("--model", required=True, help="The model to evaluate (a registered model id).")
    sub.add_argument("--limit", type=_positive_int, help="Evaluate only the first N rows.")
    sub.add_argument("--system-message", help="A system message sent before each row's input.")
    sub.add_argument("--temperature", type=float, help="Sampling temperature (default: greedy).")
    sub.add_argument("--max-tokens", type=_positive_int, help="Most tokens generated per row.")
    sub.add_argument("--output", "-o", help="Write every row and a summary here as JSON lines.")
    sub.add_argument("--poll-interval", type=float, default=0.5, help=argparse.SUPPRESS)
    where = sub.add_mutually_exclusive_group()
    where.add_argument("--url", help="A running server (default: $LLAMA_STACK_URL, else http://localhost:8321).")
    where.add_argument("--config", help="Build the stack in this process from this run config file.")
    where.add_argument("--distro", help="Build the stack in this process from this installed distro.")
    sub.add_argument("--api-key", help="The server's API key (default: $LLAMA_STACK_API_KEY); with --url.")
    sub.set_defaults(func=cmd_eval_run)
    sub = eval_commands.add_parser(
        "report",
        help="Render a `stack eval run --output` file as a self-contained HTML page.",
        description="Render a `stack eval run --output` file as one self-contained HTML page: aggregates, a score "
        "chart per scoring function and the failing rows.",
    )
    sub.add_argument("results", help="The results file (JSON lines).")
    sub.add_argument("--output", "-o", help="The HTML file to write (default: the results file with .html).")
    sub.set_defaults(func=cmd_eval_report)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
