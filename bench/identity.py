"""Identity analysis at account scale: how long evaluating the CI identities takes, and how it grows.

    python bench/identity.py [--roles 5000] [--policies 20000] [--functions 2000] [--federated 500]
                             [--steps 4] [--repeat 3]

An account (snapshot format) with `roles` IAM roles, `policies` customer-managed policies (four per
role, attached across roles), `functions` Lambda functions each running as one of the roles, one
EC2 instance per 50 roles running as a service role and managed by Systems Manager, and 20 CI
runners whose roles hold the powers the identity graph follows: assuming deploy roles, passing
roles to services, sending commands to instances, updating functions' code, IAM self-service. One
role in 25 is an administrator.

It prints, per size (the whole account, then fractions of it down to 1/`steps`), the seconds of the
identity analysis alone (analysis/identity.py, the fastest of `repeat` runs, after the graph is
built, with the garbage collector paused as a scan pauses it) and the seconds per 1,000
principals, which stay flat when growth is linear.

Then the whole account again with `federated` more roles that hosted pipelines federate into (OIDC
trusts in the shapes bench/generate.py makes, one in ten an administrator): the seconds of
classifying the CI identities and evaluating them with the CI nodes' identities, and what they add
to the account without them, and of those the seconds of classifying the CI identities alone
(`classify_s`; `classify_first_s` in the first run, with the caches as cold as a scan's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import FEDERATION_ISSUERS, _federated_trust  # noqa: E402

ACCOUNT = "123456789012"
REGION = "eu-west-1"
RUNNERS = 20


def _role(name: str, trust_service: str, policies: list[dict], inline: list[dict]) -> dict:
    return {
        "RoleName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "Path": "/",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": trust_service}, "Action": "sts:AssumeRole"}]},
        "AttachedManagedPolicies": policies, "RolePolicyList": inline, "Tags": [],
        "InstanceProfileList": [],
    }


def _document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def identity_snapshot(roles: int = 5000, policies: int = 20000, functions: int = 2000, seed: int = 0,
                      federated: int = 0) -> dict:
    """The account described in the module docstring, as one AWS snapshot part."""
    rng = random.Random(seed)
    services = ["lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "glue.amazonaws.com"]
    managed = []
    for index in range(policies):
        bucket = f"arn:aws:s3:::data-{index % 997}"
        document = _document({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{bucket}/*"},
                             {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                              "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t-{index % 503}"})
        managed.append({"PolicyName": f"app-{index}", "Arn": f"arn:aws:iam::{ACCOUNT}:policy/app-{index}",
                        "DefaultVersionId": "v1", "PolicyVersionList": [
                            {"VersionId": "v1", "IsDefaultVersion": True, "Document": document}]})
    admin = {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    iam_roles, profiles = [], []
    for index in range(roles):
        attached = [{"PolicyName": p["PolicyName"], "PolicyArn": p["Arn"]}
                    for p in rng.sample(managed, min(4, len(managed)))]
        if index % 25 == 0:
            attached.append(admin)
        role = _role(f"svc-{index}", services[index % len(services)], attached, [])
        iam_roles.append(role)
        if role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com":
            profile = {"InstanceProfileName": role["RoleName"],
                       "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{role['RoleName']}",
                       "Roles": [{"RoleName": role["RoleName"], "Arn": role["Arn"]}]}
            profiles.append(profile)
    # The CI runners' roles: each with a mix of the powers the identity graph follows.
    powers = [
        {"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": "*"},
        {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn-1*"},
        {"Effect": "Allow", "Action": ["iam:PassRole", "ecs:RunTask"], "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/deploy-*"},
        {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": f"arn:aws:iam::{ACCOUNT}:role/ci-*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::artifacts/*",
         "Condition": {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}},
    ]
    runners = []
    for index in range(RUNNERS):
        inline = [{"PolicyName": "ci", "PolicyDocument": _document(powers[index % len(powers)],
                                                                   powers[(index + 1) % len(powers)])}]
        role = _role(f"ci-runner-{index}", "ec2.amazonaws.com", [], inline)
        iam_roles.append(role)
        profiles.append({"InstanceProfileName": role["RoleName"],
                         "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{role['RoleName']}",
                         "Roles": [{"RoleName": role["RoleName"], "Arn": role["Arn"]}]})
        runners.append(role)
    for index in range(max(1, roles // 100)):
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
        role = _role(f"deploy-{index}", "ec2.amazonaws.com", [], [{"PolicyName": "deploy", "PolicyDocument": _document(
            {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": "*"})}])
        role["AssumeRolePolicyDocument"] = trust
        iam_roles.append(role)
    oidc_providers = []
    for url in FEDERATION_ISSUERS[:federated]:
        oidc_providers.append({"Arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url}", "Url": url,
                               "ClientIDList": ["sts.amazonaws.com"], "Tags": []})
    for index in range(federated):
        provider = oidc_providers[index % len(oidc_providers)]
        attached = [admin] if index % 10 == 0 else []
        inline = [] if attached else [{"PolicyName": "deploy", "PolicyDocument": _document(
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::acme-svc-{index}/*"},
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/deploy-*"})}]
        role = _role(f"pipeline-{index:04d}", "ec2.amazonaws.com", attached, inline)
        role["AssumeRolePolicyDocument"] = _federated_trust(provider["Arn"], provider["Url"], index)
        iam_roles.append(role)
    ec2_profiles = [p for p in profiles if p["InstanceProfileName"].startswith("svc-")]
    instances, managed_instances = [], []
    for index in range(max(1, roles // 50)):
        instance_id = f"i-{index:017x}"
        profile = ec2_profiles[index % len(ec2_profiles)]
        instances.append(_instance(instance_id, f"app-{index}", profile["Arn"], {}))
        managed_instances.append({"InstanceId": instance_id, "PingStatus": "Online", "ResourceType": "EC2Instance"})
    for index, role in enumerate(runners):
        instance_id = f"i-{0xC1000 + index:017x}"
        instances.append(_instance(instance_id, f"gitlab-runner-{index}",
                                   f"arn:aws:iam::{ACCOUNT}:instance-profile/{role['RoleName']}", {"ci-role": "runner"}))
    lambda_roles = [r for r in iam_roles if r["RoleName"].startswith("svc-")
                    and r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service") == "lambda.amazonaws.com"]
    lambdas = [{"FunctionName": f"fn-{index}", "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn-{index}",
                "Role": lambda_roles[index % len(lambda_roles)]["Arn"], "Runtime": "python3.12"}
               for index in range(functions)]
    return {
        "format": "pipeline-guardrails-snapshot", "version": 1, "tool_version": "bench",
        "collected_at": dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provider": "aws", "source": "aws", "scope": ACCOUNT, "account": {"id": ACCOUNT, "aliases": []},
        "regions": {REGION: {"vpcs": [], "subnets": [], "route_tables": [], "security_groups": [],
                             "network_acls": [], "instances": instances, "ssm_managed_instances": managed_instances,
                             "lambda_functions": lambdas}},
        "iam": {"roles": iam_roles, "policies": managed, "instance_profiles": profiles, "users": [],
                **({"oidc_providers": oidc_providers} if oidc_providers else {})},
        "gaps": [],
    }


def _instance(instance_id: str, name: str, profile: str, tags: dict) -> dict:
    return {"InstanceId": instance_id, "State": {"Name": "running"}, "ImageId": "ami-0123456789abcdef0",
            "InstanceType": "t3.medium", "IamInstanceProfile": {"Arn": profile},
            "Tags": [{"Key": "Name", "Value": name}, *({"Key": k, "Value": v} for k, v in tags.items())],
            "NetworkInterfaces": [], "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled",
                                                         "HttpPutResponseHopLimit": 1}}


def measure(snapshot: dict, repeat: int) -> tuple[float, int, dict]:
    """Seconds of the identity analysis alone (fastest of `repeat`), principals, and a summary
    (with the CPU seconds of that run: on a shared machine the wall time counts others' work too)."""
    from guardrails import pipeline
    from guardrails.analysis.ci_identities import classify_identities
    from guardrails.analysis.estate import classify_nodes, classify_production
    from guardrails.analysis.identity import analyse_identities
    from guardrails.config import Config
    from guardrails.gc_pause import paused_gc

    best, summary, first_classified = float("inf"), {}, None
    for _ in range(repeat):
        graph = pipeline.normalize([json.loads(json.dumps(snapshot))])
        config = Config()
        ci = classify_nodes(graph, config)
        production = classify_production(graph, config)
        # A scan analyses with the cyclic garbage collector paused (pipeline.py): measured the same way.
        with paused_gc():
            started, cpu = time.perf_counter(), time.process_time()
            # As analysis/estate.py does: the CI identities of their own (hosted pipelines' roles and
            # users) are classified, and evaluated with the identities CI nodes run as.
            hosted = [i for i, v in classify_identities(graph, config, ci).items() if v.hosted]
            classified = time.perf_counter() - started
            first_classified = first_classified if first_classified is not None else classified
            identities = analyse_identities(graph, config, production, ci, identities=hosted)
            powers = {}
            for node_id in ci:
                for identity, _ in graph.out(node_id, "runs_as"):
                    powers[identity.id] = identities.power(identity.id).level
            for identity_id in hosted:
                powers[identity_id] = identities.power(identity_id).level
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if seconds >= best:
            continue
        best = seconds
        # Classifying (and judging the federations' trusts) on its own: the first run's, whose
        # caches are as cold as a scan's, and this run's.
        summary = {"cpu_s": round(cpu, 3), "classify_s": round(classified, 3),
                   "classify_first_s": round(first_classified, 3), "ci_identities": len(powers), "evaluated": len(identities.evaluated()),
                   "levels": {level: sum(1 for v in powers.values() if v == level) for level in sorted(set(powers.values()))}}
    return best, graph.count("identity"), summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", type=int, default=5000)
    parser.add_argument("--policies", type=int, default=20000)
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--federated", type=int, default=500,
                        help="roles hosted pipelines federate into, added to the whole account at the end (0: none)")
    parser.add_argument("--steps", type=int, default=4, help="also measure 1/2 ... 1/STEPS of the account")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'roles':>7} {'policies':>9} {'functions':>9} {'principals':>10} {'identity s':>10} {'s/1000 princ':>12}  CI identities")
    for step in range(args.steps, 0, -1):
        scale = step / args.steps
        snapshot = identity_snapshot(int(args.roles * scale), int(args.policies * scale), int(args.functions * scale))
        seconds, principals, summary = measure(snapshot, args.repeat)
        print(f"{int(args.roles * scale):>7} {int(args.policies * scale):>9} {int(args.functions * scale):>9} "
              f"{principals:>10} {seconds:>10.3f} {seconds / principals * 1000:>12.4f}  {summary}", flush=True)
        if step == args.steps:
            whole = seconds
    if args.federated:
        snapshot = identity_snapshot(args.roles, args.policies, args.functions, federated=args.federated)
        seconds, principals, summary = measure(snapshot, args.repeat)
        print(f"with {args.federated} federated roles: {principals} principals, {seconds:.3f} s; the CI identities "
              f"add {seconds - whole:.3f} s  {summary}", flush=True)


if __name__ == "__main__":
    main()
