"""List calls through openstacksdk's lower layer: the connection's service proxies (keystoneauth
adapters with the connection's authenticated session, endpoint discovery, timeout and retry
settings), answering plain JSON.

openstacksdk's own lists build one `Resource` object per item, which costs more CPU than the HTTP
request that brought it; the mappers read the API's JSON instead. The requests are the ones the
SDK's resource lists send (same paths, query, `Accept` header and microversion), the answers are
checked with the SDK's own `raise_from_response` (so errors are the SDK's typed exceptions), and
the next-page links are followed the way the SDK follows them. Every list is guarded: a next link
that comes back, more than `max_pages` pages, or an item seen twice fail the read.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from openstack import exceptions, utils

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.contract import guarded_items, guarded_pages
from collectors.openstack.common import ITEMS_PER_PAGE

# The newest microversion asked for per list, as openstacksdk 4's Server, Flavor and Volume
# resources ask (the lower of this and the server's newest is sent): the answers then have the
# shape the mappers read, the same as through the SDK's objects.
SERVERS_MICROVERSION = "2.100"
FLAVORS_MICROVERSION = "2.61"
VOLUMES_MICROVERSION = "3.71"
_ACCEPT_JSON = {"Accept": "application/json"}

Page = tuple[list[dict[str, Any]], str | None]


def microversion(proxy: Any, newest: str | None) -> str | None:
    """The microversion the SDK would send: the proxy's configured default, else the newest both
    sides speak."""
    if newest is None:
        return None
    return proxy.default_microversion or utils.maximum_supported_microversion(proxy, newest)


def next_link(data: Mapping[str, Any], key: str, response: Any) -> str | None:
    """The next page's URL: `<key>_links` (Nova, Cinder, Neutron), `links`, a `next` field, or a
    Link header, in the order openstacksdk looks."""
    links: Any = data.get(f"{key}_links", data.get("links")) or ()
    if isinstance(links, Mapping):
        links = [{k: v} for k, v in links.items()]
    found = next((item["href"] for item in links
                  if isinstance(item, Mapping) and item.get("rel") == "next" and "href" in item), None)
    found = found or data.get("next")
    if isinstance(found, str) and found.startswith("/v"):
        found = found[found.find("/", 1):]
    if not found and "next" in response.links:
        found = response.links["next"]["uri"]
    return str(found) if found else None


def _pages(proxy: Any, path: str, key: str, params: Mapping[str, Any], version: str | None) -> Iterator[Page]:
    uri: str | None = path
    query: dict[str, Any] = dict(params)
    while uri:
        response = proxy.get(uri, headers=_ACCEPT_JSON, params=query, microversion=version)
        exceptions.raise_from_response(response)
        data = response.json()
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise exceptions.SDKException(f"the answer to {path} holds no {key!r} list")
        link = next_link(data, key, response) if items else None
        yield items, link
        if link is None:
            return
        # The link's query becomes the parameters, so they are not repeated page after page.
        parts = urllib.parse.urlparse(link)
        query = urllib.parse.parse_qs(parts.query)
        uri = urllib.parse.urljoin(link, parts.path)


def items_of(proxy: Any, path: str, key: str, what: str, max_pages: int = DEFAULT_MAX_PAGES,
             params: Mapping[str, Any] | None = None,
             newest_microversion: str | None = None) -> Iterator[dict[str, Any]]:
    """The items (API JSON objects) of one paged list, guarded against lists that do not end."""
    version = microversion(proxy, newest_microversion)
    pages = guarded_pages(_pages(proxy, path, key, params or {}, version), what, max_pages, lambda page: page[1])
    items = (item for page, _link in pages for item in page if isinstance(item, dict))
    return guarded_items(items, what, max_pages * ITEMS_PER_PAGE, item_key)


def item_key(item: Mapping[str, Any]) -> Any:
    # A flavor's id may be missing where its name is the id (openstacksdk's Flavor does the same).
    return item.get("id") or item.get("name")


def resource_json(resource: Any) -> dict[str, Any]:
    """One openstacksdk Resource (a single GET elsewhere) as its API JSON, for the same mappers."""
    body: dict[str, Any] = resource.to_dict(headers=False, computed=False, original_names=True)
    return body
