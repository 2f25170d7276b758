"""The chains and tokens kassa watches, from the settings (``chains`` / KASSA_CHAINS)."""

from __future__ import annotations

from dataclasses import dataclass

from kassa.core.errors import ConfigurationError
from kassa.core.settings import ChainSettings, Settings

# Confirmations a transfer needs when the settings do not say (seed 002: Polygon 64,
# Ethereum 3); other chains must name theirs.
USUAL_CONFIRMATIONS = {1: 3, 137: 64, 31337: 1}


@dataclass(frozen=True, slots=True)
class Token:
    symbol: str
    address: str  # lower case, 0x + 40 hex digits
    decimals: int


@dataclass(frozen=True, slots=True)
class Chain:
    key: str  # the settings' name for it: "polygon", "ethereum", "local"
    chain_id: int
    rpc_urls: tuple[str, ...]
    confirmations: int
    block_time_seconds: float
    behind_head: int
    max_blocks_per_scan: int
    tokens: tuple[Token, ...]
    start_block: int | None = None  # None: from the head when the chain is first watched

    def token(self, symbol: str) -> Token | None:
        return next((t for t in self.tokens if t.symbol == symbol), None)

    def token_at(self, address: str) -> Token | None:
        address = address.lower()
        return next((t for t in self.tokens if t.address == address), None)


def _chain(key: str, raw: ChainSettings) -> Chain:
    confirmations = raw.confirmations or USUAL_CONFIRMATIONS.get(raw.chain_id)
    if confirmations is None:
        raise ConfigurationError(
            f"chains.{key}.confirmations is required: chain id {raw.chain_id} has no usual "
            f"value (known: {', '.join(map(str, sorted(USUAL_CONFIRMATIONS)))})."
        )
    for url in raw.rpc_urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"chains.{key}.rpc_urls: {url!r} is not an http(s) URL.")
    tokens = tuple(
        Token(symbol, token.address.lower(), token.decimals)
        for symbol, token in sorted(raw.tokens.items())
    )
    return Chain(
        key=key,
        chain_id=raw.chain_id,
        rpc_urls=tuple(raw.rpc_urls),
        confirmations=confirmations,
        block_time_seconds=raw.block_time_seconds,
        behind_head=raw.behind_head,
        max_blocks_per_scan=raw.max_blocks_per_scan,
        tokens=tokens,
        start_block=raw.start_block,
    )


def chains_of(settings: Settings) -> dict[str, Chain]:
    """Every configured chain by key; ConfigurationError names what is wrong."""
    chains = {key: _chain(key, raw) for key, raw in settings.chains.items()}
    ids = [c.chain_id for c in chains.values()]
    if len(ids) != len(set(ids)):
        raise ConfigurationError("chains: two chains have the same chain_id.")
    return chains


def shown_url(url: str) -> str:
    """An RPC URL for display: hosted nodes carry their API key in the path or query."""
    scheme, _, rest = url.partition("://")
    host, sep, _tail = rest.partition("/")
    host = host.rsplit("@", 1)[-1]  # no user:password either
    query = "?" in host
    host = host.split("?", 1)[0]
    return f"{scheme}://{host}" + ("/(path hidden)" if (sep and _tail) or query else "")


def describe(chain: Chain) -> str:
    """One line for ``kassa config check``."""
    tokens = ", ".join(f"{t.symbol} {t.address} ({t.decimals} decimals)" for t in chain.tokens)
    nodes = ", ".join(shown_url(u) for u in chain.rpc_urls)
    return (
        f"chain id {chain.chain_id}, {chain.confirmations} confirmations, "
        f"RPC {nodes}; tokens: {tokens or 'none'}"
    )
