"""llama-stack-core: a minimal, plugin-based Llama Stack server.

The core holds the API contracts, the plugin hooks, the resource registry, routing, the HTTP server and the CLI.
Providers live in their own packages and register through the ``llama_stack`` entry-point group.
"""

__version__ = "0.1.0"

#: Version of the provider-facing contract (hookspecs, ProviderSpec, API Protocols). A plugin declares the range it
#: was built for in its ProviderSpec; the core refuses plugins whose range excludes this version.
PROVIDER_API_VERSION = "1.0"
