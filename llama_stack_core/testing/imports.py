"""Import-weight checks: a plugin's entry-point module must stay cheap to import.

The server imports every installed plugin's entry-point module at start-up (and ``stack --help`` does too), so a
plugin module that pulls in its provider's SDK, a database driver or a model runtime slows down every stack, whether
or not that provider is configured. The provider module is imported only when a configured provider is built.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence

_PROBE = """
import importlib, json, sys
for name in {modules!r}:
    module = importlib.import_module(name)
for hook in {hooks!r}:
    getattr(module, hook)()
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))))
"""


def heavy_imports(modules: Sequence[str], heavy: Iterable[str], *, call: Iterable[str] = ()) -> list[str]:
    """The modules of ``heavy`` (a name covers its submodules) loaded in a fresh interpreter by importing
    ``modules`` in order, then calling the last one's functions named in ``call`` (each without arguments)."""
    code = _PROBE.format(modules=list(modules), hooks=list(call), heavy=sorted(heavy))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"importing {', '.join(modules)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def assert_plugin_module_is_light(module: str, heavy: Iterable[str], *, call: Iterable[str] = ()) -> None:
    """Fail if importing the plugin module ``module`` (and calling its provider hooks in ``call``) loads any of
    ``heavy``: typically the package's ``provider`` module and the libraries only the provider needs."""
    loaded = heavy_imports([module], heavy, call=call)
    assert not loaded, f"importing {module} loaded {loaded}; import them in the provider factory instead"
