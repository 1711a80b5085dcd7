"""Request and token quotas (``server.quota``): budgets per user, team and anonymous client address, counted in a
KV store that several server processes share. Imported only when the run config sets ``server.quota``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..stack import Stack
    from .budgets import Quotas
    from .config import QuotaConfig

__all__ = ["open_quotas"]


async def open_quotas(stack: Stack, config: QuotaConfig) -> Quotas:
    """The quotas of a started stack: their store opened (closed with the stack's stores), their counts syncing in
    the background, and, with a token budget, the inference operations charging their answers' tokens."""
    from ..apis.routes import Api
    from .budgets import Quotas
    from .config import StoreName
    from .counts import SharedCounts
    from .tokens import charge_inference

    kvstore = config.kvstore
    if isinstance(kvstore, StoreName):
        store = await stack.open_store(kvstore.backend, kvstore.namespace)
    elif kvstore is not None:
        ref = stack.config.storage.stores.get(kvstore)
        store = await stack.open_store(kvstore, None if ref is not None and ref.namespace else "quota")
    else:
        store = await stack.open_store(stack.config.storage.stores["metadata"].backend, "quota")
    counts = SharedCounts(store, local_share=config.local_share, sync_seconds=config.sync_seconds)
    counts.start()
    router = stack.routers.get(Api.inference)
    if config.meters_tokens and router is not None:
        charge_inference(router)
    return Quotas(config, counts)
