"""Collect one AWS account into a snapshot (docs/snapshot-format.md).

This is the only code that talks to AWS. It only reads: every client it creates refuses, before
anything is sent, any operation that is not a Describe, List, Get, BatchGet or Search call. A
resource type that cannot be read in a region (denied, throttled past the retries, an error page,
an unreadable reply, no answer in time) becomes a gap naming the failed call and its key stays
absent; the rest of the collection goes on.

Time is bounded at three levels: each connection and each reply has a timeout, each call is tried
a bounded number of times, and the whole collection may be given a deadline after which nothing
more is sent (the calls not made become gaps). A service endpoint that stopped answering in a
region is not asked again there: its remaining calls become gaps at once.

Credentials, profiles and endpoints come from the boto3 session the caller builds, so the standard
AWS configuration applies, including AWS_ENDPOINT_URL (honoured by botocore itself).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.exceptions import ConnectionError as EndpointUnreachable
from botocore.parsers import ResponseParserError

from guardrails import __version__
from guardrails.snapshot import FORMAT as SNAPSHOT_FORMAT, VERSION as SNAPSHOT_VERSION
READ_ONLY_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Search")
CODEBUILD_BATCH_SIZE = 100  # BatchGetProjects accepts at most 100 names
IMAGE_BATCH_SIZE = 200  # keeps DescribeImages requests well inside the request size limit
STOPPED_FOR_GOOD = ("shutting-down", "terminated")
# botocore raises ResponseParserError, which is no BotoCoreError, for a reply it cannot read (an
# HTML error page from an XML-protocol API such as EC2, IAM, ELB or STS).
CLOUD_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
# Failures that say the endpoint itself is not answering, rather than refusing one request.
UNANSWERED = (EndpointUnreachable, ReadTimeoutError, ConnectionClosedError)
CALL_TIMEOUT = 10.0  # seconds a reply may take; botocore's own default is 60
CONNECT_TIMEOUT = 5.0
ERROR_TEXT_LIMIT = 300  # an error page can be megabytes; a gap keeps its beginning

WantsUserData = Callable[[dict, dict], bool]
Progress = Callable[[str], None]


class CollectionError(Exception):
    """Nothing could be collected: the account cannot be identified or read at all."""


class ConfigurationError(Exception):
    """The AWS configuration cannot work (no region, an invalid endpoint): nothing was sent."""


class CallSkipped(Exception):
    """A call the collector did not send: its time was up, or its endpoint had stopped answering."""


class MutatingCallRefused(RuntimeError):
    """The collector was about to call an AWS operation that is not read-only."""


def refuse_writes(model, **_kwargs) -> None:
    """botocore `before-call` handler: stop any operation that could change the account."""
    if not model.name.startswith(READ_ONLY_PREFIXES):
        raise MutatingCallRefused(
            f"refusing {model.service_model.service_name}:{model.name}: the collector only reads"
        )


def client_config(call_timeout: float = CALL_TIMEOUT) -> Config:
    """Bounded waits and retries. The standard retry mode tries a call 3 times in all, backing off
    at most a few seconds between tries, unless the AWS configuration sets max_attempts
    (AWS_MAX_ATTEMPTS or the profile's max_attempts); the adaptive mode would add client-side rate
    limiting on top, which made one throttled API cost minutes."""
    return Config(
        connect_timeout=min(CONNECT_TIMEOUT, call_timeout),
        read_timeout=call_timeout,
        retries={"mode": "standard"},
        user_agent_extra=f"pipeline-guardrails/{__version__}",
    )


def make_client(session, service: str, region: str | None = None, *, call_timeout: float = CALL_TIMEOUT):
    """A client of `session` that can only read (see refuse_writes), with bounded waits."""
    try:
        client = session.client(service, region_name=region, config=client_config(call_timeout))
    except (BotoCoreError, ValueError) as error:  # botocore raises ValueError for an invalid endpoint URL
        raise ConfigurationError(f"cannot create an AWS {service} client: {error}") from None
    client.meta.events.register("before-call", refuse_writes)
    return client


def default_region(session) -> str:
    region = session.region_name
    if not region:
        raise ConfigurationError(
            "no AWS region configured: pass --region or --all-regions, or set AWS_REGION or a region in the profile"
        )
    return region


def enabled_regions(ec2) -> list[str]:
    """The regions enabled for the account (DescribeRegions without AllRegions)."""
    return sorted(region["RegionName"] for region in ec2.describe_regions()["Regions"])


def list_regions(session) -> list[str]:
    """The regions enabled for the account behind `session`."""
    try:
        return enabled_regions(make_client(session, "ec2", session.region_name or "us-east-1"))
    except CLOUD_ERRORS as error:
        raise CollectionError(f"cannot list the account's regions: {error_text(error)}") from error


def json_safe(value: Any) -> Any:
    """The API reply as plain JSON values: datetimes as ISO-8601 strings."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def error_text(error: BaseException) -> str:
    """One line naming the error code and message."""
    if isinstance(error, ClientError):
        details = error.response.get("Error") or {}
        code, message = str(details.get("Code") or ""), str(details.get("Message") or "")
        if not code:
            # a reply that parsed (an XHTML error page, say) but is no AWS error document
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = f"HTTP {status}" if status else "ClientError"
            message = message or "the reply is not an AWS error document"
        elif code.isdigit():
            # an endpoint that answered a JSON API with an XML error body: read the code from it
            code = _xml_field(message, "Code") or f"HTTP {code}"
            message = _xml_field(message, "Message") or message
        text = f"{code}: {message}".rstrip(": ")
    elif isinstance(error, CallSkipped):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"


def _xml_field(text: str, name: str) -> str | None:
    found = re.search(rf"<{name}>(.*?)</{name}>", text, re.S)
    return found.group(1).strip() if found else None


def policy_document(document: Any) -> Any:
    """A policy document as a JSON object, whether the endpoint returned it decoded or URL-encoded."""
    if isinstance(document, str):
        try:
            return json.loads(unquote(document))
        except ValueError:
            return json.loads(document)
    return document


POLICY_DOCUMENT_KEYS = ("AssumeRolePolicyDocument", "PolicyDocument", "Document")


def decode_policy_documents(value: Any) -> Any:
    """IAM reply items with every policy document (trust, inline, managed version) as a JSON object."""
    if isinstance(value, list):
        return [decode_policy_documents(item) for item in value]
    if isinstance(value, dict):
        return {
            key: policy_document(item) if key in POLICY_DOCUMENT_KEYS else decode_policy_documents(item)
            for key, item in value.items()
        }
    return value


def all_items(client, operation: str, result_key: str, **params: Any) -> list:
    """Every item of a listing, through its paginator when the API has one."""
    if client.can_paginate(operation):
        items: list = []
        for page in client.get_paginator(operation).paginate(**params):
            items.extend(page.get(result_key, []))
        return items
    return getattr(client, operation)(**params).get(result_key, [])


def chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def collect(
    session,
    regions: list[str] | None,
    *,
    wants_user_data: WantsUserData,
    progress: Progress | None = None,
    timeout: float | None = None,
    call_timeout: float = CALL_TIMEOUT,
    parts: tuple[str, ...] = ("global", "regions"),
    listed_regions: list[str] | None = None,
) -> dict:
    """Collect the account behind `session` in `regions` (None: every region enabled in the
    account) into one snapshot dict.

    `parts` says what to collect: "global" (the account's aliases and IAM) and "regions" (each
    region's lists); an organization's collection makes one part of each as separate tasks
    (organization.py). The regions listed for regions=None are appended to `listed_regions`.

    wants_user_data(instance, context) decides, per instance, whether its user data is fetched
    (one DescribeInstanceAttribute call each); context is {"images": {image_id: image},
    "auto_scaling_group": name or None}. `timeout` bounds the whole collection in seconds: once it
    is spent, no call is sent and what is left becomes gaps. `call_timeout` bounds the wait for one
    reply (never more than `timeout`). Raises CollectionError when nothing can be collected and
    ConfigurationError when the AWS configuration cannot work.
    """
    collector = _Collector(session, wants_user_data, progress or (lambda _message: None), timeout, call_timeout)
    return collector.run(regions, parts, listed_regions)


class _Collector:
    def __init__(
        self,
        session,
        wants_user_data: WantsUserData,
        progress: Progress,
        timeout: float | None,
        call_timeout: float,
    ):
        self.session = session
        self.wants_user_data = wants_user_data
        self.progress = progress
        self.timeout = timeout
        self.call_timeout = min(call_timeout, timeout) if timeout else call_timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.account_id = ""
        self.gaps: list[dict] = []
        self.collected_something = False
        self.calls = 0
        self.current_call: str | None = None  # "service:Operation" of the call under way
        self.current_endpoint: tuple[str, str] | None = None
        self.unanswering: dict[tuple[str, str], str] = {}  # (service, region): why it is not asked again
        self.region_rank = ""  # "region 2 of 17", for progress
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str):
        key = (service, region)
        if key not in self._clients:
            client = make_client(self.session, service, region, call_timeout=self.call_timeout)

            def started(model, **_kwargs) -> None:
                self.calls += 1
                self.current_call = f"{service}:{model.name}"
                self.current_endpoint = key

            def sending(**_kwargs) -> None:
                # every attempt, retries included, passes here: nothing is sent past the deadline
                # or to an endpoint that has already failed to answer
                self.check_time()
                if key in self.unanswering:
                    raise CallSkipped(self.unanswering[key])

            client.meta.events.register("before-call", started)
            client.meta.events.register("before-send", sending)
            self._clients[key] = client
        return self._clients[key]

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def timed_out(self) -> str:
        return f"not collected: collection timed out after {self.timeout:g} s"

    def check_time(self) -> None:
        if self.out_of_time():
            raise CallSkipped(self.timed_out())

    def gap(self, region: str | None, what: str, error: BaseException | str) -> None:
        message = error if isinstance(error, str) else self.failure(error)
        self.gaps.append(
            {"provider": "aws", "scope": self.account_id, "region": region, "what": what, "error": message}
        )

    def failure(self, error: BaseException) -> str:
        """The error as one line naming the call that failed; an endpoint that did not answer is
        remembered, so that its other calls are not sent and waited for again."""
        text = error_text(error)
        if isinstance(error, CallSkipped) or self.current_call is None:
            return text
        if isinstance(error, UNANSWERED) and self.current_endpoint is not None:
            service, region = self.current_endpoint
            self.unanswering.setdefault(
                self.current_endpoint, f"not collected: {service} in {region} did not answer ({text})"
            )
        return f"{self.current_call}: {text}"

    def attempt(self, region: str | None, what: str, fetch: Callable[[], Any]) -> Any:
        """fetch() or, when the cloud refuses, None and a gap."""
        rank = f"{self.region_rank}, " if region else ""
        self.progress(f"{region or 'global'}: {what} ({rank}{self.calls} API calls so far)")
        self.current_call = self.current_endpoint = None
        try:
            self.check_time()
            result = fetch()
        except (*CLOUD_ERRORS, CallSkipped) as error:
            self.gap(region, what, error)
            return None
        self.collected_something = True
        return result

    def run(self, regions: list[str] | None, parts: tuple[str, ...] = ("global", "regions"),
            listed_regions: list[str] | None = None) -> dict:
        if regions:
            home = regions[0]
        elif regions is None:  # every enabled region: they are listed through the configured one
            home = self.session.region_name or "us-east-1"
        else:
            home = default_region(self.session)
        self.progress("identifying the account")
        try:
            self.account_id = self.client("sts", home).get_caller_identity()["Account"]
        except (*CLOUD_ERRORS, CallSkipped) as error:
            raise CollectionError(f"cannot identify the AWS account: {self.failure(error)}") from error

        if regions is None:
            regions = self.enabled_regions(home)
            if listed_regions is not None:
                listed_regions.extend(regions)

        account: dict[str, Any] = {"id": self.account_id}
        iam: dict[str, Any] = {}
        if "global" in parts:
            iam_client = self.client("iam", home)
            aliases = self.attempt(
                None, "account_aliases", lambda: all_items(iam_client, "list_account_aliases", "AccountAliases")
            )
            if aliases is not None:
                account["aliases"] = aliases
            iam = self.collect_iam(home)
        collected_regions = {}
        if "regions" in parts:
            for rank, region in enumerate(regions, 1):
                self.region_rank = f"region {rank} of {len(regions)}"
                collected_regions[region] = self.collect_region(region)

        if not self.collected_something:
            first = self.gaps[0]["error"] if self.gaps else "no region was given"
            raise CollectionError(f"nothing could be collected from AWS account {self.account_id}: {first}")
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "tool_version": __version__,
            "collected_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "provider": "aws",
            "source": "aws",
            "scope": self.account_id,
            "account": account,
            "regions": collected_regions,
            "iam": iam,
            "gaps": self.gaps,
        }

    def enabled_regions(self, home: str) -> list[str]:
        """Every region enabled in the account or, when they cannot be listed, the home region
        alone, with a gap saying that the others were not seen."""
        self.progress("listing the account's regions")
        self.current_call = self.current_endpoint = None
        try:
            self.check_time()
            return enabled_regions(self.client("ec2", home))
        except (*CLOUD_ERRORS, CallSkipped) as error:
            self.gap(None, "regions", f"{self.failure(error)}; only {home} collected")
            return [home]

    # IAM, once for the account

    def collect_iam(self, home: str) -> dict:
        iam_client = self.client("iam", home)
        iam: dict[str, Any] = {}
        self.progress(f"global: iam roles and users ({self.calls} API calls so far)")
        self.current_call = self.current_endpoint = None
        try:
            self.check_time()
            roles, users, groups, local_policies = self.authorization_details(iam_client)
        except (*CLOUD_ERRORS, CallSkipped) as error:
            # one denied call hides them all: name each, so that none of them reads as "none"
            for what in ("iam.roles", "iam.users", "iam.groups", "iam.policies"):
                self.gap(None, what, error)
        else:
            iam["roles"] = json_safe(decode_policy_documents(roles))
            iam["users"] = json_safe(decode_policy_documents(users))
            iam["groups"] = json_safe(decode_policy_documents(groups))
            self.collected_something = True
            policies = self.attempt(
                None, "iam.policies", lambda: self.used_policies(iam_client, roles + users + groups, local_policies)
            )
            if policies is not None:
                iam["policies"] = json_safe(decode_policy_documents(policies))
        profiles = self.attempt(
            None, "iam.instance_profiles", lambda: all_items(iam_client, "list_instance_profiles", "InstanceProfiles")
        )
        if profiles is not None:
            iam["instance_profiles"] = json_safe(decode_policy_documents(profiles))
        providers = self.attempt(None, "iam.oidc_providers", lambda: self.oidc_providers(iam_client))
        if providers is not None:
            iam["oidc_providers"] = json_safe(providers)
        if "users" in iam:
            iam["access_keys"] = json_safe(self.access_keys(iam_client, iam["users"]))
        return iam

    def oidc_providers(self, iam_client) -> list[dict]:
        """The account's OIDC providers: the issuers whose tokens its roles may trust. One that
        cannot be read is kept by its ARN (its URL is in it), with a gap naming it."""
        found = []
        for ref in iam_client.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
            arn = ref.get("Arn")
            if not arn:
                continue
            reply = self.attempt(None, f"iam.oidc_providers/{arn}",
                                 lambda: iam_client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn))
            item = {"Arn": arn}
            if reply is not None:
                item.update({k: reply[k] for k in ("Url", "ClientIDList", "ThumbprintList", "Tags") if k in reply})
            found.append(item)
        return found

    def access_keys(self, iam_client, users: list[dict]) -> list[dict]:
        """Every user's access keys (ListAccessKeys), with the last use of each active one
        (GetAccessKeyLastUsed). A user whose keys cannot be listed is marked and named in a gap."""
        keys: list[dict] = []
        for user in users:
            name = user.get("UserName")
            if not name:
                continue
            listed = self.attempt(None, f"iam.access_keys/{name}",
                                  lambda: all_items(iam_client, "list_access_keys", "AccessKeyMetadata", UserName=name))
            if listed is None:
                user["_keys_unknown"] = True
                continue
            for key in listed:
                item = {k: key.get(k) for k in ("UserName", "AccessKeyId", "Status", "CreateDate")}
                item["UserName"] = item["UserName"] or name
                if key.get("Status") == "Active":
                    used = self.attempt(None, f"iam.access_keys/{name}/{str(key.get('AccessKeyId'))[:4]}/last_used",
                                        lambda: iam_client.get_access_key_last_used(AccessKeyId=key["AccessKeyId"]))
                    last = (used or {}).get("AccessKeyLastUsed") or {}
                    item.update({"LastUsedDate": last.get("LastUsedDate"), "ServiceName": last.get("ServiceName")})
                keys.append(item)
        return keys

    @staticmethod
    def authorization_details(iam_client) -> tuple[list, list, list]:
        """Roles, users and customer managed policies.

        AWS managed policies are left out of this call on purpose: the AWSManagedPolicy filter
        returns every one of them (well over a thousand) with its whole version history, when an
        account attaches a few dozen at most; those are read one by one in used_policies."""
        roles: list[dict] = []
        users: list[dict] = []
        policies: list[dict] = []
        paginator = iam_client.get_paginator("get_account_authorization_details")
        groups: list[dict] = []
        for page in paginator.paginate(Filter=["Role", "User", "Group", "LocalManagedPolicy"]):
            roles.extend(page.get("RoleDetailList", []))
            users.extend(page.get("UserDetailList", []))
            groups.extend(page.get("GroupDetailList", []))
            policies.extend(page.get("Policies", []))
        return roles, users, groups, policies

    @staticmethod
    def used_policies(iam_client, principals: list[dict], local_policies: list[dict]) -> list:
        """The managed policies that shape a collected identity's power (attached, or set as a
        permissions boundary), each with only its default version."""
        used = set()
        for principal in principals:
            used.update(attached["PolicyArn"] for attached in principal.get("AttachedManagedPolicies", []))
            boundary = principal.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
            if boundary:
                used.add(boundary)
        kept = []
        for policy in local_policies:
            if policy.get("Arn") in used:
                used.discard(policy["Arn"])
                versions = [v for v in policy.get("PolicyVersionList", []) if v.get("IsDefaultVersion")]
                kept.append({**policy, "PolicyVersionList": versions})
        for arn in sorted(used):
            try:
                policy = iam_client.get_policy(PolicyArn=arn)["Policy"]
                version = iam_client.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
            except iam_client.exceptions.NoSuchEntityException:
                continue  # detached and deleted since the details were read
            policy.pop("Tags", None)  # not part of the authorization details' policy item
            kept.append({**policy, "PolicyVersionList": [version["PolicyVersion"]]})
        for policy in kept:
            # Some endpoints (moto) leave out PolicyName; it is the ARN's last path segment.
            policy.setdefault("PolicyName", policy["Arn"].rsplit("/", 1)[-1])
        return kept

    # one region

    def collect_region(self, region: str) -> dict:
        ec2 = self.client("ec2", region)
        data: dict[str, Any] = {}

        def listing(key: str, client, operation: str, result_key: str) -> None:
            items = self.attempt(region, key, lambda: all_items(client, operation, result_key))
            if items is not None:
                data[key] = json_safe(items)

        listing("vpcs", ec2, "describe_vpcs", "Vpcs")
        listing("subnets", ec2, "describe_subnets", "Subnets")
        listing("route_tables", ec2, "describe_route_tables", "RouteTables")
        listing("internet_gateways", ec2, "describe_internet_gateways", "InternetGateways")
        listing(
            "egress_only_internet_gateways",
            ec2,
            "describe_egress_only_internet_gateways",
            "EgressOnlyInternetGateways",
        )
        listing("nat_gateways", ec2, "describe_nat_gateways", "NatGateways")
        listing("network_acls", ec2, "describe_network_acls", "NetworkAcls")
        listing("security_groups", ec2, "describe_security_groups", "SecurityGroups")
        self.store(
            data, "managed_prefix_lists", self.attempt(region, "managed_prefix_lists", lambda: self.prefix_lists(ec2))
        )
        listing("network_interfaces", ec2, "describe_network_interfaces", "NetworkInterfaces")

        reservations = self.attempt(region, "instances", lambda: all_items(ec2, "describe_instances", "Reservations"))
        instances = None
        if reservations is not None:
            instances = json_safe([instance for r in reservations for instance in r.get("Instances", [])])

        autoscaling = self.client("autoscaling", region)
        listing("auto_scaling_groups", autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups")

        if instances is None:
            self.gap(region, "images", "not collected: the instances that use them could not be listed")
        else:
            image_ids = sorted({i["ImageId"] for i in instances if i.get("ImageId")})
            self.store(data, "images", self.attempt(region, "images", lambda: self.images(ec2, image_ids)))
            self.add_user_data(region, ec2, instances, data)
            data["instances"] = instances

        self.collect_load_balancers(region, data)
        elb = self.client("elb", region)
        listing("classic_load_balancers", elb, "describe_load_balancers", "LoadBalancerDescriptions")
        self.store(
            data, "codebuild_projects", self.attempt(region, "codebuild_projects", lambda: self.codebuild(region))
        )
        self.collect_workloads(region, data)
        listing("vpc_peering_connections", ec2, "describe_vpc_peering_connections", "VpcPeeringConnections")
        listing(
            "transit_gateway_attachments", ec2, "describe_transit_gateway_attachments", "TransitGatewayAttachments"
        )
        self.store(
            data,
            "transit_gateway_route_tables",
            self.attempt(region, "transit_gateway_route_tables", lambda: self.transit_gateway_route_tables(ec2)),
        )
        return data

    @staticmethod
    def store(data: dict, key: str, items: list | None) -> None:
        if items is not None:
            data[key] = json_safe(items)

    @staticmethod
    def prefix_lists(ec2) -> list:
        lists = all_items(ec2, "describe_managed_prefix_lists", "PrefixLists")
        for prefix_list in lists:
            prefix_list["Entries"] = all_items(
                ec2, "get_managed_prefix_list_entries", "Entries", PrefixListId=prefix_list["PrefixListId"]
            )
        return lists

    @staticmethod
    def images(ec2, image_ids: list[str]) -> list:
        """The images the instances run, in batches; images since deregistered or not shared are skipped."""
        images: list = []
        for batch in chunks(image_ids, IMAGE_BATCH_SIZE):
            while batch:
                try:
                    found = all_items(
                        ec2, "describe_images", "Images", ImageIds=batch, IncludeDeprecated=True, IncludeDisabled=True
                    )
                    images.extend(found)
                    break
                except ClientError as error:
                    if not error.response.get("Error", {}).get("Code", "").startswith("InvalidAMIID"):
                        raise
                    missing = set(re.findall(r"ami-[0-9A-Za-z]+", error.response["Error"].get("Message", "")))
                    if not missing & set(batch):
                        raise
                    batch = [image_id for image_id in batch if image_id not in missing]
        return images

    def add_user_data(self, region: str, ec2, instances: list[dict], data: dict) -> None:
        group_of = {
            member["InstanceId"]: group["AutoScalingGroupName"]
            for group in data.get("auto_scaling_groups", [])
            for member in group.get("Instances", [])
        }
        images = {image["ImageId"]: image for image in data.get("images", [])}
        for rank, instance in enumerate(instances):
            if self.out_of_time():
                left = len(instances) - rank
                self.gap(region, "instances/UserData", f"{self.timed_out()} (the last {left} instances)")
                return
            if instance.get("State", {}).get("Name") in STOPPED_FOR_GOOD:
                continue
            instance_id = instance["InstanceId"]
            tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
            context = {
                "images": images,
                "auto_scaling_group": group_of.get(instance_id) or tags.get("aws:autoscaling:groupName"),
            }
            if not self.wants_user_data(instance, context):
                continue
            what = f"instances/{instance_id}/UserData"
            reply = self.attempt(
                region, what, lambda: ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
            )
            value = (reply or {}).get("UserData", {}).get("Value")
            if value:
                instance["UserData"] = value

    def collect_load_balancers(self, region: str, data: dict) -> None:
        elbv2 = self.client("elbv2", region)
        balancers = self.attempt(
            region, "load_balancers", lambda: all_items(elbv2, "describe_load_balancers", "LoadBalancers")
        )
        if balancers is None:
            for what in ("listeners", "listener_rules"):
                self.gap(region, what, "not collected: the load balancers could not be listed")
        else:
            data["load_balancers"] = json_safe(balancers)
            listeners = self.attempt(region, "listeners", lambda: self.listeners(elbv2, balancers))
            if listeners is None:
                self.gap(region, "listener_rules", "not collected: the listeners could not be listed")
            else:
                data["listeners"] = json_safe(listeners)
                self.store(
                    data, "listener_rules", self.attempt(region, "listener_rules", lambda: self.rules(elbv2, listeners))
                )
        self.store(data, "target_groups", self.attempt(region, "target_groups", lambda: self.target_groups(elbv2)))

    @staticmethod
    def listeners(elbv2, balancers: list[dict]) -> list:
        # DescribeListeners needs a load balancer (or listener) ARN: one call per balancer.
        # Gateway load balancers are included; their listeners carry no port.
        return [
            listener
            for balancer in balancers
            for listener in all_items(
                elbv2, "describe_listeners", "Listeners", LoadBalancerArn=balancer["LoadBalancerArn"]
            )
        ]

    @staticmethod
    def rules(elbv2, listeners: list[dict]) -> list:
        rules = []
        for listener in listeners:
            if listener.get("Protocol") not in ("HTTP", "HTTPS"):
                continue  # only application load balancer listeners have rules
            for rule in all_items(elbv2, "describe_rules", "Rules", ListenerArn=listener["ListenerArn"]):
                rules.append({**rule, "ListenerArn": listener["ListenerArn"]})
        return rules

    @staticmethod
    def target_groups(elbv2) -> list:
        groups = all_items(elbv2, "describe_target_groups", "TargetGroups")
        for group in groups:
            group["Targets"] = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"]).get(
                "TargetHealthDescriptions", []
            )
        return groups

    def codebuild(self, region: str) -> list:
        codebuild = self.client("codebuild", region)
        names = all_items(codebuild, "list_projects", "projects")
        projects = []
        for batch in chunks(names, CODEBUILD_BATCH_SIZE):
            projects.extend(codebuild.batch_get_projects(names=batch).get("projects", []))
        return projects

    def collect_workloads(self, region: str, data: dict) -> None:
        """What runs as a role and can be taken over, for identity analysis: Systems Manager's
        managed instances, Lambda functions, CloudFormation stacks, Glue dev endpoints, SageMaker
        notebook instances, ECS task definitions and EC2 launch templates."""
        ssm = self.client("ssm", region)
        self.store(data, "ssm_managed_instances", self.attempt(
            region, "ssm_managed_instances",
            lambda: all_items(ssm, "describe_instance_information", "InstanceInformationList")))
        functions = self.client("lambda", region)
        self.store(data, "lambda_functions", self.attempt(
            region, "lambda_functions", lambda: all_items(functions, "list_functions", "Functions")))
        stacks = self.client("cloudformation", region)
        self.store(data, "cloudformation_stacks", self.attempt(
            region, "cloudformation_stacks", lambda: all_items(stacks, "describe_stacks", "Stacks")))
        glue = self.client("glue", region)
        self.store(data, "glue_dev_endpoints", self.attempt(
            region, "glue_dev_endpoints", lambda: all_items(glue, "get_dev_endpoints", "DevEndpoints")))
        self.store(data, "sagemaker_notebook_instances", self.attempt(
            region, "sagemaker_notebook_instances", lambda: self.notebooks(region)))
        self.store(data, "ecs_task_definitions", self.attempt(
            region, "ecs_task_definitions", lambda: self.task_definitions(region)))
        self.store(data, "launch_templates", self.attempt(
            region, "launch_templates", lambda: self.launch_templates(self.client("ec2", region))))

    def notebooks(self, region: str) -> list:
        sagemaker = self.client("sagemaker", region)
        names = [n["NotebookInstanceName"] for n in all_items(sagemaker, "list_notebook_instances", "NotebookInstances")]
        found = []
        for name in names:  # the listing has no role: one DescribeNotebookInstance each
            reply = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
            reply.pop("ResponseMetadata", None)
            found.append(reply)
        return found

    def task_definitions(self, region: str) -> list:
        ecs = self.client("ecs", region)
        arns = all_items(ecs, "list_task_definitions", "taskDefinitionArns", status="ACTIVE")
        found = []
        for arn in arns:  # the listing has ARNs only: one DescribeTaskDefinition each
            definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            found.append({key: definition.get(key) for key in
                          ("taskDefinitionArn", "family", "revision", "taskRoleArn", "executionRoleArn", "status")
                          if key in definition})
        return found

    @staticmethod
    def launch_templates(ec2) -> list:
        templates = all_items(ec2, "describe_launch_templates", "LaunchTemplates")
        for template in templates:
            # The default and latest versions are the ones a launch without a version number uses.
            template["Versions"] = all_items(
                ec2, "describe_launch_template_versions", "LaunchTemplateVersions",
                LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Default", "$Latest"])
        return templates

    @staticmethod
    def transit_gateway_route_tables(ec2) -> list:
        tables = all_items(ec2, "describe_transit_gateway_route_tables", "TransitGatewayRouteTables")
        for table in tables:
            # SearchTransitGatewayRoutes requires a filter; these two types are every route there is.
            table["Routes"] = all_items(
                ec2,
                "search_transit_gateway_routes",
                "Routes",
                TransitGatewayRouteTableId=table["TransitGatewayRouteTableId"],
                Filters=[{"Name": "type", "Values": ["static", "propagated"]}],
            )
        return tables
