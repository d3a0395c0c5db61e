"""OAuth accounts joining a config swap: kept light, so a gateway without ``auth: oauth``
providers never imports the account service (:mod:`turnout.oauth.service`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from turnout.config.compile import Runtime

if TYPE_CHECKING:
    from turnout.health.board import HealthBoard
    from turnout.state import GatewayState
    from turnout.storage import Storage


def use_accounts(
    state: GatewayState,
    runtime: Runtime,
    board: HealthBoard,
    storage: Storage | None,
    spawn: Callable[[Coroutine[Any, Any, None]], object],
) -> None:
    """Accounts join the new board's pools inside the swap (docs/oauth.md); the first provider
    with ``auth: oauth`` starts them, a second later."""
    if state.accounts is not None:
        state.accounts.use(runtime, board)
    elif any(p.auth == "oauth" for p in runtime.config.providers.values()):

        async def start() -> None:
            from turnout.oauth.service import start_accounts
            from turnout.outbound import OutboundPolicy

            policy = OutboundPolicy.from_config(runtime.config.outbound)
            state.accounts = await start_accounts(runtime, board, storage, policy)

        spawn(start())
