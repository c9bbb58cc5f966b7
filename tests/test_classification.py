"""Who is a CI node and who is production (spec/CHECKS.md), one table row per rule of the spec."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.analysis import classify
from guardrails.analysis.classify import PRODUCT_WORDS, classify_ci, production_reason
from guardrails.config import Config, parse
from guardrails.pipeline import analyse, normalize


def role_of(name: str, tags: dict[str, str] | None = None, *, node_id: str = "i-0123456789abcdef0",
            config: Config | None = None, **kwargs) -> str | None:
    verdict = classify_ci(node_id, name, tags or {}, config=config, **kwargs)
    if verdict is not None:
        assert verdict.reason, "every CI verdict says why"
    return verdict.role if verdict else None


RUNNER_PRODUCTS = {"actions-runner", "github-runner", "azdo-agent"}


@pytest.mark.parametrize("word", PRODUCT_WORDS)
def test_every_product_word_in_a_name(word: str) -> None:
    expected = "runner" if word in RUNNER_PRODUCTS else "server"
    assert role_of(f"{word}-01") == expected
    assert role_of(f"prod-{word.upper()}") == expected


@pytest.mark.parametrize("word", PRODUCT_WORDS)
def test_every_product_word_in_a_tag_value(word: str) -> None:
    expected = "runner" if word in RUNNER_PRODUCTS else "server"
    assert role_of("i-0123456789abcdef0", {"Application": word}) == expected




@pytest.mark.parametrize(
    ("word", "expected"),
    [pytest.param(w, "runner") if w in RUNNER_PRODUCTS else pytest.param(w, "server")
     for w in PRODUCT_WORDS],
)
def test_every_product_word_in_an_image_name(word: str, expected: str) -> None:
    """An unnamed instance launched from a CI image: the matched words decide the role, and a
    runner product's own word (actions-runner, azdo-agent) is such a word."""
    assert role_of("i-0123456789abcdef0", image=f"{word}-ubuntu-22.04-20240101") == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("myjenkins01", "server"),  # a product word counts inside a longer name
        ("gitlabci", "server"),
        ("build-server", "server"),
        ("ci", "server"),
        ("CI-Server", "server"),
        ("web.ci.example.com", "server"),
        ("ci_runner", "runner"),
        ("cicd-runner", "runner"),
        ("build-node-3", "runner"),
        ("build-agent", "runner"),
        ("jenkins-slave-2", "runner"),
        ("jenkins-agent", "runner"),
        pytest.param("gitlab-runners", "runner"),
        ("buildkite-worker", "runner"),
        ("teamcity-executor", "runner"),
        ("rebuild", None),
        ("circus", None),
        ("cicada-web", None),
        ("city-portal", None),
        ("buildings-db", None),
        ("decide", None),
        ("www", None),
        ("payments-api", None),
        ("agent-smith", None),  # a runner word alone does not make a CI node
        ("worker-queue", None),
    ],
)
def test_name_words(name: str, expected: str | None) -> None:
    assert role_of(name) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"ci-role": "runner"}, "runner"),
        ({"CI-Role": "Server"}, "server"),
        ({"CI-ROLE": "RUNNER"}, "runner"),
        ({"guardrails:ci-role": "runner"}, "runner"),
        ({"Guardrails:CI-Role": "server"}, "server"),
        ({"ci-role": " runner "}, "runner"),
        ({"ci-role": "none"}, None),
        ({"Purpose": "ci"}, "server"),
        ({"Purpose": "cicd runner"}, "runner"),
        ({"Purpose": "circus"}, None),
        ({"Team": "build"}, "server"),
        ({"Team": "rebuild"}, None),
        ({"aws:autoscaling:groupName": "ci"}, None),  # AWS's own tags say nothing about the node
    ],
)
def test_tags(tags: dict[str, str], expected: str | None) -> None:
    assert role_of("app-01", tags) == expected


def test_role_tag_wins_over_words() -> None:
    assert role_of("jenkins", {"ci-role": "runner"}) == "runner"
    assert role_of("gitlab-runner", {"ci-role": "server"}) == "server"


@pytest.mark.parametrize(
    ("name", "group", "expected"),
    [
        ("i-0123456789abcdef0", "gitlab-runner-asg", "runner"),
        ("i-0123456789abcdef0", "jenkins-agent-fleet", "runner"),
        ("i-0123456789abcdef0", "build-fleet", "server"),
        ("i-0123456789abcdef0", "web-fleet", None),
        ("jenkins", "ci-worker-pool", "runner"),  # the group's name gives the role of a node named otherwise
        pytest.param("i-0123456789abcdef0", "jenkins-agents", "runner"),
        pytest.param("jenkins", "ci-workers", "runner"),
    ],
)
def test_autoscaling_group_name(name: str, group: str, expected: str | None) -> None:
    assert role_of(name, autoscaling_group=group) == expected


def test_image_name() -> None:
    assert role_of("app-01", image="jenkins-lts-2.440") == "server"
    assert role_of("app-01", image="ubuntu-22.04") is None


def test_managed_build_service_is_a_runner() -> None:
    assert role_of("app-deploy", managed_service=True) == "runner"
    assert role_of("jenkins-deploy", managed_service=True) == "runner"


CONFIG = parse({
    "ci": {
        "nodes": [
            {"id": "i-0aaaaaaaaaaaaaaaa"},
            {"name": "builder-*"},
            {"name": "deploy-box-*", "role": "runner"},
            {"tag": "team=platform-ci", "role": "server"},
            {"tag": "pipeline"},
        ],
        "exclude": ["jenkins-legacy*", "i-0bbbbbbbbbbbbbbbb"],
    },
})


@pytest.mark.parametrize(
    ("node_id", "name", "tags", "expected"),
    [
        ("i-0aaaaaaaaaaaaaaaa", "app-01", {}, "server"),
        ("i-0aaaaaaaaaaaaaaaa", "app-agent", {}, "runner"),  # no role given: the words decide
        ("i-0cccccccccccccccc", "builder-7", {}, "server"),
        ("i-0cccccccccccccccc", "Builder-7", {}, "server"),
        ("i-0cccccccccccccccc", "deploy-box-3", {}, "runner"),
        ("i-0cccccccccccccccc", "app", {"Team": "Platform-CI"}, "server"),
        ("i-0cccccccccccccccc", "gitlab-runner", {"team": "platform-ci"}, "server"),  # the configured role wins
        ("i-0cccccccccccccccc", "app", {"pipeline": "anything"}, "server"),
        ("i-0cccccccccccccccc", "app", {"team": "platform"}, None),
        ("i-0cccccccccccccccc", "deploy-box-3", {"ci-role": "server"}, "runner"),  # configuration before the tag
        ("i-0cccccccccccccccc", "jenkins-legacy-1", {}, None),
        ("i-0bbbbbbbbbbbbbbbb", "jenkins", {"ci-role": "server"}, None),
    ],
)
def test_configuration(node_id: str, name: str, tags: dict[str, str], expected: str | None) -> None:
    assert role_of(name, tags, node_id=node_id, config=CONFIG) == expected


def _codebuild_snapshot(vpc_config: dict | None) -> dict:
    project = {
        "name": "app-deploy",
        "arn": "arn:aws:codebuild:eu-west-1:123456789012:project/app-deploy",
        "environment": {"image": "aws/codebuild/standard:7.0"},
        "serviceRole": "arn:aws:iam::123456789012:role/deploy",
    }
    region: dict = {"codebuild_projects": [project]}
    if vpc_config:
        project["vpcConfig"] = vpc_config
        region.update(
            vpcs=[{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}],
            subnets=[{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}],
            security_groups=[{"GroupId": "sg-1", "VpcId": "vpc-1", "GroupName": "build"}],
        )
    return {"provider": "aws", "source": "aws", "scope": "123456789012", "account": {"id": "123456789012"},
            "regions": {"eu-west-1": region}, "iam": {}, "gaps": []}


def test_codebuild_project_in_a_vpc_is_a_runner() -> None:
    estate = analyse(normalize([_codebuild_snapshot({"vpcId": "vpc-1", "subnets": ["subnet-1"],
                                                      "securityGroupIds": ["sg-1"]})]))
    (verdict,) = estate.ci.values()
    assert verdict.role == "runner"


def test_codebuild_project_outside_a_vpc_is_not_a_ci_node() -> None:
    estate = analyse(normalize([_codebuild_snapshot(None)]))
    assert estate.ci == {}


# --- production -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["env", "Env", "ENV", "environment", "Environment", "stage", "Stage", "tier", "TIER"])
@pytest.mark.parametrize("value", ["prod", "production", "prd", "live", "PROD", "Production", "Live"])
def test_production_tags(key: str, value: str) -> None:
    assert production_reason("i-1", "app", {key: value}) is not None


@pytest.mark.parametrize(
    "tags",
    [
        {"env": "preprod"},
        {"env": "nonprod"},
        {"env": "staging"},
        {"env": "dev"},
        {"env": "production-like"},
        {"environment_name": "prod"},
        {"owner": "prod"},
        {"Name": "prod"},
        {},
    ],
)
def test_not_production_tags(tags: dict[str, str]) -> None:
    assert production_reason("i-1", "app", tags) is None


@pytest.mark.parametrize(
    ("alias", "production"),
    [
        ("acme-prod", True),
        ("prod", True),
        ("acme_prod_eu", True),
        ("ACME-PROD", True),
        ("product-team", False),
        ("acmeprod", False),
        ("prodigy", False),
        ("acme-dev", False),
    ],
)
def test_account_alias(alias: str, production: bool) -> None:
    assert (production_reason("123456789012", "123456789012", {}, aliases=[alias]) is not None) == production


PRODUCTION_CONFIG = parse({
    "production": {
        "accounts": ["111122223333"],
        "ids": ["i-0ddddddddddddddd1"],
        "names": ["*-prod-*"],
        "tags": ["team=payments"],
    },
})


@pytest.mark.parametrize(
    ("node_id", "name", "tags", "production"),
    [
        ("111122223333", "111122223333", {}, True),
        ("444455556666", "444455556666", {}, False),
        ("i-0ddddddddddddddd1", "app", {}, True),
        ("i-0ddddddddddddddd2", "api-prod-1", {}, True),
        ("i-0ddddddddddddddd2", "API-PROD-1", {}, True),
        ("i-0ddddddddddddddd2", "api-production", {}, False),
        ("i-0ddddddddddddddd2", "app", {"Team": "Payments"}, True),
        ("i-0ddddddddddddddd2", "app", {"team": "payments-ops"}, False),
        ("i-0ddddddddddddddd2", "app", {"env": "prod"}, True),  # the built-in tags still count
    ],
)
def test_production_configuration(node_id: str, name: str, tags: dict[str, str], production: bool) -> None:
    assert (production_reason(node_id, name, tags, PRODUCTION_CONFIG) is not None) == production


_WORDS = [*classify.PRODUCT_WORDS, *classify.GENERIC_WORDS, "x", "ci2", "rebuild", "bamboozle"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_WORDS), st.text(alphabet="abcdgijklnrsu019-_ \n.é", max_size=8)),
                max_size=6).map("".join))
def test_the_quick_ci_word_test_agrees_with_the_word_patterns(text):
    lowered = text.lower()
    by_patterns = bool(classify._PRODUCT_SUBSTRINGS.search(lowered) or classify._ANY_WHOLE_WORD.search(lowered))
    assert classify.names_ci_word(lowered) == by_patterns


_PART = st.lists(st.one_of(st.sampled_from([*_WORDS, "ci-role", "runner", "Name", "prod"]),
                           st.text(alphabet="abcdgijklnrsu019-_ .", max_size=6)), max_size=3).map("".join)
_PLAIN = st.sampled_from(["", "web", "orders-1", "Name", "env", "production", "team a", "rebuild"])
_NAME = st.one_of(st.sampled_from(["web-1", "web-2", "jenkins-2", "build 3", "ci", "gitlab_runner", "rebuild"]), _PART)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none(), st.dictionaries(st.one_of(_PLAIN, _PART), st.one_of(_PLAIN, _PART), max_size=3),
                          st.sampled_from(["", "img", "jenkins-ami"]), st.sampled_from(["", "asg", "ci-asg"])),
                min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 2), _NAME, st.booleans(), st.booleans()), min_size=1, max_size=12))
def test_fleet_members_are_classified_as_each_would_be_alone(fleets, members):
    """classify_nodes settles a member by its name once its fleet's shared words hold no CI word;
    that must agree with classifying every node on its own."""
    from guardrails.analysis.estate import classify_nodes
    from guardrails.graph import EstateGraph

    graph = EstateGraph()
    for n, (fleet, name, name_tag, managed) in enumerate(members):
        tags, image, group = dict(fleets[fleet % len(fleets)][1]), *fleets[fleet % len(fleets)][2:]
        if name_tag:
            tags["Name"] = name
        graph.add_node(f"i-{n}", "compute", provider="aws", name=name, tags=tags, image_name=image or None,
                       autoscaling_group=group or None, managed_service=managed, in_network=True)
    config = Config()
    alone = {}
    for node in graph.nodes("compute"):
        verdict = classify_ci(node.id, node.name, node.get("tags"), image=node.get("image_name"),
                              autoscaling_group=node.get("autoscaling_group"),
                              managed_service=node.get("managed_service"), in_network=True, config=config)
        if verdict:
            alone[node.id] = verdict
    assert classify_nodes(graph, config) == alone


_TAG = st.sampled_from(["Name", "env", "Env", "stage", "tier", "team", "name"])
_VALUE = st.sampled_from(["production", "prod", " Live ", "staging", "web-1", "web-2", "prod-db", ""])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(_TAG, _VALUE, max_size=3), _VALUE), min_size=1, max_size=10),
       st.sampled_from([Config(), Config(production_names=("prod-*",)), Config(production_tags=(("team", "web-1"),)),
                        Config(production_tags=(("NAME", "web-2"),)), Config(production_ids=frozenset({"i-1"}))]))
def test_production_classification_of_nodes_agrees_with_each_node_alone(nodes, config):
    """Nodes that live nowhere in particular are production exactly when production_reason says so."""
    from guardrails.analysis.estate import classify_production
    from guardrails.graph import EstateGraph

    graph = EstateGraph()
    for n, (tags, name) in enumerate(nodes):
        graph.add_node(f"i-{n}", "compute", provider="aws", name=name, tags=dict(tags))
    alone = {}
    for node in graph.nodes("compute"):
        reason = production_reason(node.id, node.name, node.get("tags"), config)
        if reason:
            alone[node.id] = reason
    assert classify_production(graph, config) == alone
