"""ARM list calls through the management client's own pipeline, answering the API's JSON.

The generated list operations (`virtual_machines.list_all()`, ...) turn every item into a typed
model before handing it over; that costs more CPU than the request. These lists send the same GET
through the client's public `send_request`, that is through the same pipeline: its bearer-token
policy and credential, retry policy (throttling, 5xx, connection errors, timeouts), transport
timeouts and TLS settings. Errors are raised as the generated code raises them (`map_error`, then
`HttpResponseError` in ARM's error format) and become one `AzureReadError` line; `nextLink` is
followed as the SDK's pager follows it, guarded against links that come back and endless lists.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat

from collectors.azure.common import AzureReadError, answer_error
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.contract import guarded_pages

# The api-version of each list, as the installed azure-mgmt-compute / azure-mgmt-network send it;
# the mappers read the answers of these versions.
VIRTUAL_MACHINES_API = "2026-04-01"
DISKS_API = "2026-03-02"
RESOURCE_SKUS_API = "2021-07-01"
NETWORK_API = "2026-03-01"  # network interfaces and public IP addresses

_ERRORS: dict[int, type[HttpResponseError]] = {401: ClientAuthenticationError, 404: ResourceNotFoundError,
                                               409: ResourceExistsError, 304: ResourceNotModifiedError}
_ACCEPT_JSON = {"Accept": "application/json"}
Page = tuple[list[dict[str, Any]], str | None]


def subscription_of(client: Any) -> str:
    """The subscription a management client was made for (its configuration holds it)."""
    return str(client._config.subscription_id)


def subscription_path(client: Any, provider_path: str) -> str:
    """`/subscriptions/<the client's subscription>/providers/<provider_path>`."""
    return f"/subscriptions/{urllib.parse.quote(subscription_of(client), safe='')}/providers/{provider_path}"


def _pages(client: Any, path: str, api_version: str, params: Mapping[str, str], what: str) -> Iterator[Page]:
    request = HttpRequest("GET", path, params={"api-version": api_version, **params}, headers=_ACCEPT_JSON)
    while True:
        response = client.send_request(request)
        if response.status_code != 200:
            map_error(status_code=response.status_code, response=response, error_map=_ERRORS)
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        try:
            body = response.json()
        except ValueError as exc:
            raise AzureReadError(f"{what}: HTTP {response.status_code}, but the answer is not valid JSON "
                                 f"({str(exc).splitlines()[0][:200]})") from None
        if not isinstance(body, dict) or not isinstance(body.get("value") or [], list):
            raise AzureReadError(f"{what}: HTTP {response.status_code}, but the answer is not a list of values")
        items = body.get("value")
        link = body.get("nextLink") or None
        yield [item for item in items or () if isinstance(item, dict)], link
        if link is None:
            return
        request = HttpRequest("GET", str(link), headers=_ACCEPT_JSON)


def arm_items(client: Any, path: str, api_version: str, what: str, max_pages: int = DEFAULT_MAX_PAGES,
              params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """The items (ARM JSON objects) of one list, page by page: a nextLink that comes back, or more
    than `max_pages` pages, fail the read instead of running for ever."""
    pages = guarded_pages(_pages(client, path, api_version, params or {}, what), what, max_pages,
                          lambda page: page[1])
    try:
        for items, _link in pages:
            yield from items
    except HttpResponseError as exc:  # its text spans lines (code, message, inner errors)
        raise AzureReadError(f"{what}: {answer_error(exc)}") from None
