"""The native AWS engine: an EC2 + STS Query API responder over an AwsWorld.

What it answers (form-encoded POST, XML, as boto3 speaks to EC2 and STS):
- EC2 DescribeInstances / DescribeVolumes / DescribeNetworkInterfaces (MaxResults + NextToken paging,
  `Filter.N`, id lists), DescribeAddresses (one page, as in EC2), DescribeRegions.
- STS AssumeRole and GetCallerIdentity.

Who is asking: the account comes from the signing access key (the base key belongs to the first AWS
account of the landscape; keys issued by AssumeRole belong to the role's account), the region from
the SigV4 credential scope. Signatures are checked, and session tokens must match the issued key.

Faults from the landscape: `access: forbidden` answers UnauthorizedOperation (403) for that account or
region; `throttle_times: N` answers RequestLimitExceeded (503) to the first N EC2 requests of that
account or region.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fnmatch
import hashlib
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs

from graphinv.sim import aws_ec2_xml as xml
from graphinv.sim.aws_sigv4 import SignatureError, parse_authorization, signature_matches
from graphinv.sim.aws_world import Address, AwsWorld, Ec2Instance, RegionWorld, Volume
from graphinv.sim.base import Throttle
from graphinv.sim.faults import FaultPlan, fault_response, needs_answer
from graphinv.sim.http import Request, Response
from graphinv.sim.landscape import Fault

T = TypeVar("T")
SESSION_SECONDS = 3600
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 43200


@dataclass(frozen=True)
class Identity:
    account: str
    secret: str
    token: str | None  # session token, for keys issued by AssumeRole
    arn: str
    user_id: str
    expires: dt.datetime | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def base_access_key(seed: int) -> str:
    return "AKIA" + hashlib.sha256(f"graphinv-sim-aws-base:{seed}".encode()).hexdigest()[:16].upper()


def base_secret(seed: int) -> str:
    return hashlib.sha256(f"graphinv-sim-aws-secret:{seed}".encode()).hexdigest()[:40]


# Per-action paging limits, as EC2 documents them for MaxResults.
_PAGE_LIMITS = {"DescribeInstances": (5, 1000), "DescribeVolumes": (5, 500),
                "DescribeNetworkInterfaces": (5, 1000), "DescribeInstanceTypes": (5, 100)}


class AwsQueryApi:
    """`handle(request)` for SimHTTPServer; counts requests and throttled requests per scope."""

    def __init__(self, world: AwsWorld) -> None:
        self.world = world
        self.throttle = Throttle()
        self._lock = threading.Lock()
        self._identities: dict[str, Identity] = {}
        base = world.base_account
        self._identities[base_access_key(world.seed)] = Identity(
            account=base, secret=base_secret(world.seed), token=None,
            arn=f"arn:aws:iam::{base}:user/graphinv", user_id="AIDA" + base_access_key(world.seed)[4:])
        self.requests: Counter[tuple[str, str, str, int]] = Counter()  # (account, region, action, status)
        # Faults of the landscape by (account, region), the region's own after the account's ones.
        self.scope_faults: dict[tuple[str, str], list[Fault]] = {}
        self.session_seconds: float | None = None  # AssumeRole sessions last this long instead (tests)
        self.faults = FaultPlan()

    # -- bookkeeping used by tests --------------------------------------------------------------
    def count(self, action: str | None = None, account: str | None = None, region: str | None = None,
              status: int | None = None) -> int:
        with self._lock:
            return sum(n for (a, r, act, s), n in self.requests.items()
                       if (action is None or act == action) and (account is None or a == account)
                       and (region is None or r == region) and (status is None or s == status))

    def _record(self, account: str, region: str, action: str, status: int) -> None:
        with self._lock:
            self.requests[(account, region, action, status)] += 1

    # -- request handling -----------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        params = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"), keep_blank_values=True).items()}
        params.update({k: v[0] for k, v in request.query.items()})
        action = params.get("Action", "")
        try:
            credential = parse_authorization(request.headers.get("authorization"))
        except SignatureError as exc:
            return self._error("ec2", ApiError(401, "AuthFailure", str(exc)))
        service = credential.service
        try:
            identity = self._authenticate(request, credential.access_key, credential)
        except ApiError as exc:
            self._record("?", credential.region, action, exc.status)
            return self._error(service, exc)
        fault = None
        if service == "ec2" and action != "DescribeRegions":
            scope = (identity.account, credential.region)
            fault = self.faults.due(f"aws:{scope[0]}:{scope[1]}", self.scope_faults.get(scope, []), action)
            if fault is not None and not needs_answer(fault):
                return fault_response(fault, "xml")
        try:
            if service == "sts":
                body = self._sts(action, params, identity)
            elif service == "ec2":
                body = self._ec2(action, params, identity, credential.region)
            else:
                raise ApiError(400, "UnknownService", f"service {service!r} is not simulated")
        except ApiError as exc:
            self._record(identity.account, credential.region, action, exc.status)
            response = self._error(service, exc)
            if exc.code == "RequestLimitExceeded":
                response.headers["Retry-After"] = "0"
            return response
        self._record(identity.account, credential.region, action, 200)
        answer = Response(200, body, {"Content-Type": "text/xml;charset=UTF-8"})
        return fault_response(fault, "xml", answer) if fault is not None else answer

    @staticmethod
    def _error(service: str, exc: ApiError) -> Response:
        body = xml.sts_error(exc.code, exc.message) if service == "sts" else xml.ec2_error(exc.code, exc.message)
        return Response(exc.status, body, {"Content-Type": "text/xml;charset=UTF-8"})

    def _authenticate(self, request: Request, access_key: str, credential: Any) -> Identity:
        with self._lock:
            identity = self._identities.get(access_key)
        # Messages never name the key or the secret.
        if identity is None:
            raise ApiError(401, "AuthFailure", "AWS was not able to validate the provided access credentials")
        if identity.token is not None and request.headers.get("x-amz-security-token") != identity.token:
            raise ApiError(401, "AuthFailure", "the security token included in the request is invalid")
        if identity.expires is not None and identity.expires < dt.datetime.now(dt.UTC):
            # What EC2 and STS answer to session credentials past their Expiration.
            raise ApiError(400, "ExpiredToken", "The security token included in the request is expired")
        if not signature_matches(request, credential, identity.secret):
            raise ApiError(403, "SignatureDoesNotMatch", "the request signature we calculated does not match")
        return identity

    # -- STS --------------------------------------------------------------------------------------
    def _sts(self, action: str, params: dict[str, str], identity: Identity) -> bytes:
        if action == "GetCallerIdentity":
            return xml.sts_response(action, xml.el("Arn", identity.arn) + xml.el("UserId", identity.user_id)
                                    + xml.el("Account", identity.account))
        if action == "AssumeRole":
            return self._assume_role(params)
        raise ApiError(400, "InvalidAction", f"the action {action!r} is not valid for this endpoint")

    def _assume_role(self, params: dict[str, str]) -> bytes:
        arn = params.get("RoleArn", "")
        session = params.get("RoleSessionName", "")
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/") or not session:
            raise ApiError(400, "ValidationError", "RoleArn must be an IAM role ARN and RoleSessionName is required")
        account, role = parts[4], parts[5].split("/")[-1]
        if account not in self.world.accounts:
            raise ApiError(403, "AccessDenied", f"not authorized to perform sts:AssumeRole on {arn}")
        # The key encodes the account (readable in logs) plus randomness; the secret is random.
        access_key = "ASIA" + account[-8:] + secrets.token_hex(4).upper()
        # DurationSeconds is honoured (900 s up to 12 h, as AWS takes it); `session_seconds`, when set,
        # shortens every session to that many seconds, so tests can cross an expiry in seconds.
        try:
            duration = int(params.get("DurationSeconds") or SESSION_SECONDS)
        except ValueError:
            duration = 0
        if not MIN_SESSION_SECONDS <= duration <= MAX_SESSION_SECONDS:
            raise ApiError(400, "ValidationError",
                           f"DurationSeconds must be between {MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS}")
        lasts = self.session_seconds if self.session_seconds is not None else float(duration)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lasts)
        role_id = "AROA" + hashlib.sha256(arn.encode()).hexdigest()[:16].upper()
        identity = Identity(
            account=account, secret=secrets.token_hex(20), token=secrets.token_urlsafe(48),
            arn=f"arn:aws:sts::{account}:assumed-role/{role}/{session}", user_id=f"{role_id}:{session}",
            expires=expires)
        with self._lock:
            self._identities[access_key] = identity
        creds = (xml.el("AccessKeyId", access_key) + xml.el("SecretAccessKey", identity.secret)
                 + xml.el("SessionToken", identity.token)
                 + xml.el("Expiration", expires.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"))
        user = xml.el("AssumedRoleId", identity.user_id) + xml.el("Arn", identity.arn)
        return xml.sts_response("AssumeRole", f"<Credentials>{creds}</Credentials>"
                                f"<AssumedRoleUser>{user}</AssumedRoleUser>")

    # -- EC2 --------------------------------------------------------------------------------------
    def _ec2(self, action: str, params: dict[str, str], identity: Identity, region_name: str) -> bytes:
        account = self.world.accounts[identity.account]
        if account.access == "forbidden":
            raise ApiError(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
        if self.throttle.should_throttle(f"aws:{account.id}", account.throttle_times):
            raise ApiError(503, "RequestLimitExceeded", "Request limit exceeded.")
        if action == "DescribeRegions":
            return self._describe_regions(params)
        region = account.regions.get(region_name) or RegionWorld(
            account=account.id, name=region_name, zones=[f"{region_name}a"], vpc_id="", subnet_ids=[])
        if region.access == "forbidden":
            raise ApiError(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
        if self.throttle.should_throttle(f"aws:{account.id}:{region.name}", region.throttle_times):
            raise ApiError(503, "RequestLimitExceeded", "Request limit exceeded.")
        filters = _filters(params)
        if action == "DescribeInstanceTypes":  # the region's catalogue; the same for every account
            wanted = set(_id_list(params, "InstanceType"))
            types = [t for t in self.world.instance_types.get(region.name, [])
                     if not wanted or t["InstanceType"] in wanted]
            page_t, token = _page(action, types, params)
            return xml.ec2_response(action, xml.instance_type_items(page_t) + xml.el("nextToken", token))
        if action == "DescribeInstances":
            ids = _id_list(params, "InstanceId")
            if ids and "MaxResults" in params:
                raise ApiError(400, "InvalidParameterCombination",
                               "The parameter instancesSet cannot be used with the parameter maxResults")
            found = _select(region.instances, ids, lambda i: i.id, "InvalidInstanceID.NotFound",
                            filters, _instance_filters)
            page, token = _page(action, found, params)
            body = xml.items("reservationSet", (xml.instance_item(region, i) for i in page))
            return xml.ec2_response(action, body + xml.el("nextToken", token))
        if action == "DescribeVolumes":
            found_v = _select(region.volumes, _id_list(params, "VolumeId"), lambda v: v.id,
                              "InvalidVolume.NotFound", filters, _volume_filters)
            page_v, token = _page(action, found_v, params)
            body = xml.items("volumeSet", (xml.volume_item(v) for v in page_v))
            return xml.ec2_response(action, body + xml.el("nextToken", token))
        if action == "DescribeAddresses":
            found_a = _select(region.addresses, _id_list(params, "AllocationId"), lambda a: a.allocation_id,
                              "InvalidAllocationID.NotFound", filters, _address_filters)
            public = set(_id_list(params, "PublicIp"))
            found_a = [a for a in found_a if not public or a.public_ip in public]
            return xml.ec2_response(action, xml.items("addressesSet", (xml.address_item(region, a) for a in found_a)))
        if action == "DescribeNetworkInterfaces":
            alive = [i for i in region.instances if i.private_ip is not None]
            found_i = _select(alive, _id_list(params, "NetworkInterfaceId"), lambda i: i.eni_id,
                              "InvalidNetworkInterfaceID.NotFound", filters, _eni_filters)
            page_i, token = _page(action, found_i, params)
            body = xml.items("networkInterfaceSet", (xml.eni_item(region, i) for i in page_i))
            return xml.ec2_response(action, body + xml.el("nextToken", token))
        raise ApiError(400, "InvalidAction", f"The action {action} is not valid for this web service.")

    def _describe_regions(self, params: dict[str, str]) -> bytes:
        # Every region any simulated account uses counts as enabled for all of them.
        names = self.world.all_regions()
        wanted = set(_id_list(params, "RegionName"))
        for name, values in _filters(params):
            if name == "region-name":
                names = [n for n in names if _matches(n, values)]
            elif name == "opt-in-status":
                names = names if _matches("opt-in-not-required", values) else []
            elif name != "endpoint":
                raise ApiError(400, "InvalidParameterValue", f"The filter '{name}' is invalid")
        names = [n for n in names if not wanted or n in wanted]
        return xml.ec2_response("DescribeRegions", xml.items("regionInfo", (xml.region_item(n) for n in names)))


# -- parameters ------------------------------------------------------------------------------------
def _id_list(params: dict[str, str], name: str) -> list[str]:
    prefix = name + "."
    indexed = sorted((int(k[len(prefix):]), v) for k, v in params.items()
                     if k.startswith(prefix) and k[len(prefix):].isdigit())
    return [v for _, v in indexed]


def _filters(params: dict[str, str]) -> list[tuple[str, list[str]]]:
    out = []
    n = 1
    while f"Filter.{n}.Name" in params:
        out.append((params[f"Filter.{n}.Name"], _id_list(params, f"Filter.{n}.Value")))
        n += 1
    return out


def _matches(value: str | None, patterns: Sequence[str]) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _tag_filter(name: str, tags: dict[str, str], values: list[str]) -> bool | None:
    if name.startswith("tag:"):
        return _matches(tags.get(name[4:]), values)
    if name == "tag-key":
        return any(_matches(k, values) for k in tags)
    return None


def _instance_filters(inst: Ec2Instance, name: str, values: list[str]) -> bool | None:
    simple = {"instance-id": inst.id, "instance-state-name": inst.state, "availability-zone": inst.zone,
              "instance-type": inst.instance_type, "private-ip-address": inst.private_ip,
              "ip-address": inst.public_ip}
    if name in simple:
        return _matches(simple[name], values)
    return _tag_filter(name, inst.tags, values)


def _volume_filters(vol: Volume, name: str, values: list[str]) -> bool | None:
    attached_to = vol.attachment.instance_id if vol.attachment else None
    simple = {"volume-id": vol.id, "status": vol.state, "availability-zone": vol.zone,
              "volume-type": vol.volume_type, "attachment.instance-id": attached_to}
    if name in simple:
        return _matches(simple[name], values)
    return _tag_filter(name, vol.tags, values)


def _address_filters(addr: Address, name: str, values: list[str]) -> bool | None:
    inst = addr.instance
    simple = {"allocation-id": addr.allocation_id, "public-ip": addr.public_ip, "domain": "vpc",
              "instance-id": inst.id if inst else None, "network-interface-id": inst.eni_id if inst else None,
              "association-id": addr.association_id}
    if name in simple:
        return _matches(simple[name], values)
    return _tag_filter(name, addr.tags, values)


def _eni_filters(inst: Ec2Instance, name: str, values: list[str]) -> bool | None:
    simple = {"network-interface-id": inst.eni_id, "attachment.instance-id": inst.id,
              "availability-zone": inst.zone, "private-ip-address": inst.private_ip,
              "association.public-ip": inst.public_ip}
    if name in simple:
        return _matches(simple[name], values)
    return None


def _select(objects: list[T], ids: list[str], id_of: Callable[[T], str], not_found: str,
            filters: list[tuple[str, list[str]]],
            test: Callable[[T, str, list[str]], bool | None]) -> list[T]:
    if ids:
        by_id = {id_of(o): o for o in objects}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ApiError(400, not_found, f"The ID '{missing[0]}' does not exist")
        objects = [by_id[i] for i in dict.fromkeys(ids)]
    for name, values in filters:
        kept = []
        for obj in objects:
            verdict = test(obj, name, values)
            if verdict is None:
                raise ApiError(400, "InvalidParameterValue", f"The filter '{name}' is invalid")
            if verdict:
                kept.append(obj)
        objects = kept
    return objects


def _page(action: str, objects: list[T], params: dict[str, str]) -> tuple[list[T], str | None]:
    start = 0
    if params.get("NextToken"):
        try:
            tag, _, offset = base64.urlsafe_b64decode(params["NextToken"].encode()).decode().partition(":")
            start = int(offset)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(400, "InvalidNextToken", "The token is invalid") from exc
        if tag != action or not 0 <= start <= len(objects):
            raise ApiError(400, "InvalidNextToken", "The token is invalid")
    if "MaxResults" not in params:
        return objects[start:], None  # EC2 answers everything when no page size is given
    low, high = _PAGE_LIMITS[action]
    try:
        size = int(params["MaxResults"])
    except ValueError as exc:
        raise ApiError(400, "InvalidParameterValue", "MaxResults must be a number") from exc
    if not low <= size <= high:
        raise ApiError(400, "InvalidParameterValue", f"Value ({size}) for parameter maxResults is invalid. "
                       f"Expecting a value between {low} and {high}.")
    end = start + size
    token = base64.urlsafe_b64encode(f"{action}:{end}".encode()).decode() if end < len(objects) else None
    return objects[start:end], token
