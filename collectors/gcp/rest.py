"""Compute Engine list calls through google-cloud-compute's lower layer, answering the API's JSON.

The generated clients parse every answer into protobuf messages and wrap them in proto-plus
objects, which costs more CPU than the request that brought them. These lists send the same GETs
the clients' REST transports send (same path, `maxResults`/`pageToken` query, routing and
`x-goog-api-client` and API version headers) through the client's own transport: its `AuthorizedSession` (the
client's credentials, token refresh, mTLS and api endpoint from client_options). Each page request
is wrapped the way the client wraps it (google.api_core's `wrap_method` with the RPC's default
retry and timeout, overridden by the `retry=`/`timeout=` a caller passes), errors are raised as the
transport raises them (`from_http_response`: NotFound, Forbidden, TooManyRequests, ...) and an
answer that is no JSON, or names a member twice, fails as the SDK's parser fails (`ParseError`).
`nextPageToken` is followed as the clients' pagers follow it, guarded against tokens that come back
and lists that do not end.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from google.api_core import exceptions as core_exceptions
from google.api_core import gapic_v1, version_header
from google.cloud.compute_v1.services.instances.transports.base import DEFAULT_CLIENT_INFO
from google.protobuf import json_format

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.contract import guarded_pages

Json = dict[str, Any]
# The REST paths of the lists read (the clients' http options for these RPCs).
AGGREGATED_PATH = "/compute/v1/projects/{project}/aggregated/{kind}"
GLOBAL_ADDRESSES_PATH = "/compute/v1/projects/{project}/global/addresses"
# The API version the installed google-cloud-compute (1.57) names in each call's headers; the
# mappers read the answers of this version. tests/test_collector_gcp.py holds every request sent here
# (path, query, headers) to the clients' own, so a release that moves on is noticed.
API_VERSION = "2026-09-01"


def _unique_members(pairs: list[tuple[str, Any]]) -> Json:
    # The SDK's protobuf parser refuses a member named twice; keeping either copy could drop a
    # scope's items unseen (they would look deleted), so the answer is refused here too.
    members = dict(pairs)
    if len(members) != len(pairs):
        names = [name for name, _value in pairs]
        twice = next(name for name in names if names.count(name) > 1)
        raise json_format.ParseError(f"the answer is ambiguous: duplicate key {twice}")
    return members


def answer_json(content: bytes, what: str) -> Json:
    """One answer's JSON object; anything else is a ParseError, as through the SDK's parser."""
    try:
        body = json.loads(content, object_pairs_hook=_unique_members)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise json_format.ParseError(f"{what}: the answer is not JSON ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(body, dict):
        raise json_format.ParseError(f"{what}: the answer is not a JSON object")
    return body


def api_json(item: Mapping[str, Any] | Any) -> Mapping[str, Any]:
    """An item as the API's JSON: a list's dict as it is, a google-cloud-compute message (a single
    GET elsewhere, the SDK's own lists) converted to the same camelCase JSON."""
    if isinstance(item, Mapping):
        return item
    converted: Json = type(item).to_dict(item, preserving_proto_field_name=False, use_integers_for_enums=False)
    return converted


def _page_caller(client: Any, rpc: str, url: str, project: str) -> Callable[..., Json]:
    """A page GET wrapped as the client wraps its `rpc`: that RPC's default retry and timeout, the
    client's metadata headers, the routing header of the project and the API version."""
    client._validate_universe_domain()  # as each client call does: the credentials are for this endpoint
    transport = client.transport
    session = transport._session  # the REST transport's AuthorizedSession
    sdk_call = transport._wrapped_methods[getattr(transport, rpc)]
    call_metadata = [gapic_v1.routing_header.to_grpc_metadata((("project", project),)),
                     version_header.to_api_version_header(API_VERSION)]

    def get_page(query: list[tuple[str, str]], what: str, *, timeout: float | None = None,
                 metadata: Any = ()) -> Json:
        headers = {**dict(metadata), "Content-Type": "application/json"}
        response = session.get(url, timeout=timeout, headers=headers, params=query)
        if response.status_code >= 400:
            raise core_exceptions.from_http_response(response)
        return answer_json(response.content, what)

    wrapped = gapic_v1.method.wrap_method(get_page, default_retry=sdk_call._retry, default_timeout=sdk_call._timeout,
                                          client_info=DEFAULT_CLIENT_INFO)

    def call(query: list[tuple[str, str]], what: str, retry: Any, timeout: float | None) -> Json:
        return wrapped(query, what, retry=retry if retry is not None else gapic_v1.method.DEFAULT,
                       timeout=timeout or gapic_v1.method.DEFAULT, metadata=call_metadata)

    return call


def _pages(client: Any, rpc: str, path: str, project: str, what: str, retry: Any, page_size: int | None,
           timeout: float | None) -> Iterator[Json]:
    call = _page_caller(client, rpc, f"{client.transport.host}{path}", project)
    query: list[tuple[str, str]] = [("maxResults", str(page_size))] if page_size else []
    token: str | None = None
    while True:
        page = call([*query, ("pageToken", token)] if token else query, what, retry, timeout)
        yield page
        next_token = page.get("nextPageToken")
        if not next_token:
            return
        if not isinstance(next_token, str):
            raise json_format.ParseError(f"{what}: nextPageToken is not a string")
        token = next_token


def _token(page: Json) -> str | None:
    token = page.get("nextPageToken")
    return token if isinstance(token, str) and token else None


def aggregated_items(client: Any, project: str, kind: str, what: str, retry: Any = None,
                     page_size: int | None = None, timeout: float | None = None,
                     max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[tuple[str, Json]]:
    """(scope, item) pairs of an aggregatedList (`kind`: instances | disks | addresses |
    machineTypes; the scoped lists are named like it), every zone and region, page by page."""
    path = AGGREGATED_PATH.format(project=urllib.parse.quote(project, safe=""), kind=kind)
    pages = _pages(client, "aggregated_list", path, project, what, retry, page_size, timeout)
    for page in guarded_pages(pages, what, max_pages, _token):
        scopes = page.get("items") or {}
        if not isinstance(scopes, dict):
            raise json_format.ParseError(f"{what}: 'items' is not an object of scopes")
        for scope, scoped in scopes.items():
            items = scoped.get(kind) if isinstance(scoped, dict) else None
            if items is None:
                continue  # an empty scope holds a warning only
            if not isinstance(items, list):
                raise json_format.ParseError(f"{what}: the {kind} of {scope} are not a list")
            for item in items:
                if isinstance(item, dict):
                    yield scope, item


def global_address_items(client: Any, project: str, what: str, retry: Any = None,
                         page_size: int | None = None, timeout: float | None = None,
                         max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Json]:
    """The items of globalAddresses.list, page by page."""
    path = GLOBAL_ADDRESSES_PATH.format(project=urllib.parse.quote(project, safe=""))
    for page in guarded_pages(_pages(client, "list", path, project, what, retry, page_size, timeout),
                              what, max_pages, _token):
        items = page.get("items") or []
        if not isinstance(items, list):
            raise json_format.ParseError(f"{what}: 'items' is not a list")
        yield from (item for item in items if isinstance(item, dict))
