"""``stack``: serve a distro or run config, inspect plugins, APIs and configs, run evals, scaffold a provider package.

Imports stay inside the command functions so ``stack --help`` is fast with many plugins installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ..errors import ConfigError
from .eval_commands import add_eval_commands
from .table import print_table


def cmd_list_apis(args: argparse.Namespace) -> None:
    from ..apis import all_api_specs

    print_table(
        [[s.api.value, str(len(s.routes)), s.description] for s in all_api_specs()], ["API", "ROUTES", "DESCRIPTION"]
    )


def cmd_list_providers(args: argparse.Namespace) -> None:
    from ..plugins import PluginManager

    pm = PluginManager()
    for name, why in pm.failed.items():
        print(f"warning: plugin {name} failed to load: {why}", file=sys.stderr)
    specs = sorted(pm.provider_specs.values(), key=lambda r: (r.spec.api.value, r.spec.provider_type))
    if args.api:
        specs = [r for r in specs if r.spec.api.value == args.api]
    print_table(
        [
            [
                r.spec.api.value,
                r.spec.provider_type,
                r.plugin.package or r.plugin.name,
                r.plugin.version or "-",
                "" if r.spec.compatible else f"incompatible: built for core API {r.spec.core_api_version}",
            ]
            for r in specs
        ],
        ["API", "PROVIDER TYPE", "PACKAGE", "VERSION", "NOTE"],
    )


def cmd_list_distros(args: argparse.Namespace) -> None:
    from ..config import load_run_config
    from ..plugins import PluginManager

    pm = PluginManager()
    rows = []
    for name, distro in sorted(pm.distros().items()):
        try:
            config = load_run_config(name, pm)
        except ConfigError as exc:  # one broken distro must not hide the others
            rows.append([name, distro.description, f"(unusable: {exc})"])
            continue
        providers = ", ".join(f"{api}={p.provider_type}" for api, ps in config.enabled_providers().items() for p in ps)
        rows.append([name, distro.description, providers])
    print_table(rows, ["DISTRO", "DESCRIPTION", "PROVIDERS"])


def cmd_config_print(args: argparse.Namespace) -> None:
    import yaml

    from ..apis.routes import Api
    from ..config import load_run_config
    from ..plugins import PluginManager
    from ..redaction import redact

    pm = PluginManager()
    config = load_run_config(args.source, pm)
    data = config.model_dump(mode="json", exclude_none=True, exclude={"registered_resources", "metadata_store"})
    for api_name, entries in config.providers.items():
        for entry, shown in zip(entries, data["providers"][api_name]):
            registered = pm.provider_spec(Api(api_name), entry.provider_type) if api_name in Api.__members__ else None
            try:  # through the provider's config class, so SecretStr fields are masked whatever their names
                validated = registered.spec.config_class.model_validate(
                    entry.config, context=config.validation_context()
                )
                shown["config"] = redact(validated)
            except (AttributeError, ValueError):
                shown["config"] = redact(entry.config)
    print(yaml.safe_dump(data, sort_keys=False), end="")


def cmd_config_validate(args: argparse.Namespace) -> None:
    from ..apis.routes import Api
    from ..config import load_run_config
    from ..plugins import PluginManager

    pm = PluginManager()
    config = load_run_config(args.source, pm)
    config.resource_requests()
    problems = []
    for api_name, entries in config.enabled_providers().items():
        if api_name not in Api.__members__:
            problems.append(f"providers.{api_name}: unknown API")
            continue
        for entry in entries:
            registered = pm.provider_spec(Api(api_name), entry.provider_type)
            if registered is None:
                problems.append(
                    f"providers.{api_name}.{entry.provider_id}: no installed plugin provides {entry.provider_type}"
                )
                continue
            try:
                registered.spec.config_class.model_validate(entry.config, context=config.validation_context())
            except ValueError as exc:
                problems.append(f"providers.{api_name}.{entry.provider_id}: {exc}")
    from ..config.strict import ignored_key_warning

    for key in config.ignored_keys():
        print(f"warning: {ignored_key_warning(key)}", file=sys.stderr)
    if problems:
        raise ConfigError("\n".join(problems))
    print(f"{args.source}: OK")


def cmd_auth_hash_key(args: argparse.Namespace) -> None:
    from ..auth.keys import generate_key, hash_key, read_key

    if args.generate:
        key = generate_key()
        print(f"key:      {key}\nkey_hash: {hash_key(key)}")
        return
    print(hash_key(read_key(args.key)))


def cmd_serve(args: argparse.Namespace) -> None:
    from .serve import serve

    serve(
        args.source,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        port_file=args.port_file,
    )


def cmd_traces(args: argparse.Namespace) -> None:
    from .client import default_url
    from .traces import cmd_traces as run

    args.url = args.url or default_url()
    run(args)


def cmd_new_provider(args: argparse.Namespace) -> None:
    from .scaffold import scaffold_provider

    path = scaffold_provider(args.name, args.api, args.directory, remote=args.remote)
    print(f"created {path}\nnext: pip install -e {path} && pytest {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stack", description="Run and inspect a Llama Stack server.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], None], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(func=func)
        return sub

    add("list-apis", cmd_list_apis, "List the APIs the core defines.")
    sub = add("list-providers", cmd_list_providers, "List installed provider types (api, type, package, version).")
    sub.add_argument("--api", help="Only this API.")
    add("list-distros", cmd_list_distros, "List installed distros and their providers.")

    config = add("config", lambda a: config.print_help(), "Print or validate a run config.")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    sub = config_commands.add_parser(
        "print",
        help="Print the resolved config (env substituted).",
        description="Print the resolved config of a distro or file (env substituted).",
    )
    sub.add_argument("source", help="A distro name or a run config file.")
    sub.set_defaults(func=cmd_config_print)
    sub = config_commands.add_parser(
        "validate",
        help="Check a run config against the installed plugins.",
        description="Check a run config against the installed plugins.",
    )
    sub.add_argument("source", help="A distro name or a run config file.")
    sub.set_defaults(func=cmd_config_validate)

    auth = add("auth", lambda a: auth.print_help(), "Helpers for server.auth.")
    auth_commands = auth.add_subparsers(dest="auth_command", required=True, metavar="SUBCOMMAND")
    sub = auth_commands.add_parser(
        "hash-key",
        help="Print the key_hash of an API key, for server.auth.api_keys.",
        description="Print the key_hash (sha256:<hex>) of an API key for server.auth.api_keys. The key is read from "
        "stdin (or a prompt) unless given; --generate makes a new random key and prints both.",
    )
    sub.add_argument("key", nargs="?", help="The key (default: read from stdin; an argument lands in shell history).")
    sub.add_argument("--generate", action="store_true", help="Generate a new random key and print it with its hash.")
    sub.set_defaults(func=cmd_auth_hash_key)

    sub = add("serve", cmd_serve, "Serve a distro or run config over HTTP.")
    sub.add_argument("source", help="A distro name (e.g. starter) or a run config file.")
    sub.add_argument("--host", help="Interface to bind (default: server.host, 0.0.0.0).")
    sub.add_argument("--port", type=int, help="Port (default: server.port, 8321, or $LLAMA_STACK_PORT).")
    sub.add_argument("--port-file", help="Write the port to this file once bound (with --port 0: any free port).")
    sub.add_argument("--workers", type=int, help="Worker processes (default: server.workers, 1).")
    sub.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    traces = add("traces", cmd_traces, "List recent traces of a running server, or show one as a span tree.")
    traces.add_argument(
        "--url",
        default=None,
        help="The server (default: $LLAMA_STACK_URL, else http://localhost:$LLAMA_STACK_PORT or :8321).",
    )
    traces.add_argument("--limit", type=int, default=20, help="How many traces to list (default 20).")
    traces_commands = traces.add_subparsers(dest="traces_command", metavar="SUBCOMMAND")
    sub = traces_commands.add_parser(
        "show",
        help="Print one trace's span tree with durations.",
        description="Print one trace's span tree with durations, indented.",
    )
    sub.add_argument("trace_id", help="The trace id (from `stack traces`).")
    sub.add_argument("--url", default=argparse.SUPPRESS, help="The server (as for `stack traces`).")

    evaluate = add("eval", lambda a: evaluate.print_help(), "Run a model over a benchmark; report its results.")
    add_eval_commands(evaluate)

    sub = add("new-provider", cmd_new_provider, "Scaffold a provider package in a new folder.")
    sub.add_argument("name", help="Short provider name, e.g. acme (package llama-stack-provider-acme).")
    sub.add_argument("--api", required=True, help="The API it implements, e.g. inference.")
    sub.add_argument("--remote", action="store_true", help="A remote adapter (default: inline).")
    sub.add_argument("--directory", default=".", help="Where to create the package folder.")
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
