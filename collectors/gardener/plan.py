"""`plan(section)`: one ScopeTask per Gardener read (four garden kinds, and Machines per seed)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from collectors.gardener.collect import (
    CORE,
    GardenerReadError,
    ShootNamespaces,
    collect_bastions,
    collect_machines,
    collect_projects,
    collect_seeds,
    collect_shoots,
    list_objects,
)
from collectors.gardener.kube import garden_client
from collectors.gardener.seed_access import SeedAccess
from collectors.gardener.settings import parse_settings
from collectors.scope import Scope, ScopeTask

log = logging.getLogger(__name__)

SOURCE = "gardener"
GARDEN_KINDS = ("Project", "Seed", "Shoot", "Bastion")


def plan(section: Mapping[str, Any]) -> list[ScopeTask]:
    settings = parse_settings(section)
    garden = garden_client(settings)
    api = client.CustomObjectsApi(garden)
    size, timeout = settings.page_size, settings.request_timeout
    readers = {"Project": collect_projects, "Seed": collect_seeds, "Shoot": collect_shoots,
               "Bastion": collect_bastions}
    tasks = [ScopeTask(Scope(SOURCE, "garden", "global", kind), partial(readers[kind], api, size, timeout))
             for kind in GARDEN_KINDS]

    # The Machine scopes depend on which seeds exist. If the garden cannot say, plan none: nothing
    # is swept for a scope that was not read, and the Seed scope reports the failure.
    try:
        seeds = {obj["metadata"]["name"] for obj in list_objects(api, CORE, "seeds", None, size, timeout)}
    except (GardenerReadError, ApiException, HTTPError, OSError, KeyError, TypeError) as exc:
        log.warning("gardener: cannot list seeds (%s); no Machine scopes this run", type(exc).__name__)
        return tasks
    seeds |= set(settings.seed_kubeconfigs)

    access = SeedAccess(garden, settings)
    shoot_namespaces = ShootNamespaces(api, size, timeout)
    for seed in sorted(seeds):
        if seed in settings.excluded_seeds:
            log.warning("gardener: seed %s is in excluded_seeds; its machines are not read", seed)
            continue
        namespaces = partial(shoot_namespaces.on_seed, seed)
        tasks.append(ScopeTask(Scope(SOURCE, seed, "global", "Machine"),
                               partial(collect_machines, access, seed, namespaces, size, timeout)))
    return tasks
