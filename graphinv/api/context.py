"""What every resolver gets as `info.context`: this request's graph view, loaders and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import strawberry

from graphinv.api.errors import ApiError
from graphinv.api.loaders import Loaders
from graphinv.api.request_graph import RequestGraph
from graphinv.api.settings import ApiSettings
from graphinv.history.settings import HistorySettings
from graphinv.orphan_settings import DEFAULT_STALENESS, PriceTable


@dataclass
class RequestContext:
    db: RequestGraph
    loaders: Loaders
    settings: ApiSettings
    # From the config's `orphans:` section, as `graphinv orphans` reads it.
    orphan_staleness: timedelta = DEFAULT_STALENESS
    prices: PriceTable = field(default_factory=PriceTable.load)
    # From the config's `history:` section: how the `changes` subscription polls.
    history: HistorySettings = field(default_factory=HistorySettings)
    cost: int = 0  # the estimate the cost limit accepted, reported in the response's extensions
    # Root fields compiled to one Cypher query each (graphinv/api/compiled.py); False: resolvers only.
    compiled: bool = False

    def page_size(self, first: int) -> int:
        if first < 1 or first > self.settings.max_page_size:
            raise ApiError(f"first must be between 1 and {self.settings.max_page_size}, got {first}")
        return first


Info = strawberry.Info[RequestContext, None]
