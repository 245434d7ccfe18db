"""The `sources.gardener` section: how to reach the garden and the seeds."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator

from collectors.base_settings import DEFAULT_READ_TIMEOUT, SourceSection, SourceSettings
from graphinv.settings.types import Duration

DEFAULT_PAGE_SIZE = 500
DEFAULT_VIEWER_SECONDS = 1800


class SeedKubeconfig(SourceSection):
    kubeconfig: str = Field(min_length=1)


class GardenerSettings(SourceSettings):
    # Exactly one way to the garden: a kubeconfig, a token file with the server, or in-cluster.
    kubeconfig: str | None = None
    context: str | None = None
    token_file: str | None = None
    server: str | None = None
    ca_file: str | None = None
    in_cluster: bool = False
    seeds: dict[str, SeedKubeconfig] = {}  # static kubeconfigs of seeds that are not managed seeds
    viewer_kubeconfig: bool = True  # short-lived shoots/viewerkubeconfig credentials for managed seeds
    viewer_expiration_seconds: int = Field(default=DEFAULT_VIEWER_SECONDS, gt=0)
    excluded_seeds: list[str] = []
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, gt=0)
    # `request_timeout` is its older name here.
    read_timeout: Duration = Field(default=DEFAULT_READ_TIMEOUT,
                                   validation_alias=AliasChoices("read_timeout", "request_timeout"))

    @model_validator(mode="after")
    def _one_way_in(self) -> GardenerSettings:
        ways = [bool(self.kubeconfig), bool(self.token_file or self.server), self.in_cluster]
        if sum(ways) != 1:
            raise ValueError("give exactly one of kubeconfig, token_file + server, or in_cluster: true")
        if ways[1] and not (self.token_file and self.server):
            raise ValueError("token_file and server go together")
        return self

    @property
    def seed_kubeconfigs(self) -> dict[str, str]:
        return {name: seed.kubeconfig for name, seed in self.seeds.items()}

    @property
    def request_timeout(self) -> tuple[float, float]:
        """(connect, read) seconds, as the kubernetes client's `_request_timeout` takes them."""
        return (self.connect_seconds, self.read_seconds)
