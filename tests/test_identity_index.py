"""The run-as index answers what walking every resource answers, in the same order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.providers.aws.identity_index import RunAsIndex

ROLES = [f"role-{n}" for n in range(6)]


def brute_force(resources, skip, take):
    """The loop RunAsIndex documents, over every resource by id."""
    found, reached = [], set()
    for resource_id, resource, roles in sorted(resources):
        if resource_id == skip or all(role in reached or role == skip for role in roles):
            continue
        answer = take(resource_id, resource, roles)
        if answer is not None:
            found.append(answer)
            reached.update(roles)
    return found


@st.composite
def estates(draw):
    count = draw(st.integers(0, 25))
    ids = draw(st.lists(st.text("abcdef", min_size=1, max_size=3), min_size=count, max_size=count, unique=True))
    shared_roles = draw(st.booleans())  # one role per resource, or role sets that overlap
    resources = []
    for resource_id in ids:
        if shared_roles:
            roles = tuple(draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3)))
        else:
            roles = (draw(st.sampled_from(ROLES)),)
        resources.append((resource_id, {"id": resource_id}, roles))
    takeable = draw(st.sets(st.sampled_from(ids))) if ids else set()
    skip = draw(st.sampled_from([None, *ROLES[:2], *ids[:2]]))
    return resources, takeable, skip


@settings(max_examples=100, deadline=None)
@given(estates())
def test_index_matches_walking_every_resource(estate):
    resources, takeable, skip = estate

    def take(resource_id, resource, roles):
        return (resource_id, roles) if resource_id in takeable else None

    assert RunAsIndex(resources).first_per_role(skip, take) == brute_force(resources, skip, take)


def test_a_broad_grant_tries_one_resource_per_role():
    resources = [(f"i-{n:05d}", None, (f"role-{n % 3}",)) for n in range(3000)]
    tried = []

    def take(resource_id, resource, roles):
        tried.append(resource_id)
        return resource_id

    assert RunAsIndex(resources).first_per_role(None, take) == ["i-00000", "i-00001", "i-00002"]
    assert tried == ["i-00000", "i-00001", "i-00002"]
