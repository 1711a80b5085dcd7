"""Run config: the YAML file (or a distro's bundled one) that says which providers and resources a stack serves."""

from ..storage import StorageConfig
from .loader import load_run_config, resolve_config_source
from .model import ProviderConfig, RunConfig, ServerConfig

__all__ = ["ProviderConfig", "RunConfig", "ServerConfig", "StorageConfig", "load_run_config", "resolve_config_source"]
