"""Indexes that keep the identity evaluation linear in the size of an account.

An account may hold tens of thousands of instances or functions that run as a few hundred roles.
Whom an identity can become by taking one over is decided per role: the first resource by id,
running as a role not reached yet, that the identity's policy lets it take over. Walking every
resource for every evaluated identity makes the evaluation grow with identities x resources; the
index below groups the resources by the roles they run as, so an identity with a broad grant
tries one resource per role, and one with a narrow grant stops at the first that matches.
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, Iterable, TypeVar

Resource = TypeVar("Resource")
Found = TypeVar("Found")


class RunAsIndex(Generic[Resource]):
    """The resources of one kind, by id, each with the ids of the identities it runs as.

    `first_per_role(skip, take)` answers what this loop answers, in the same order:

        reached = set()
        for resource in resources (by id):
            if resource is `skip` or every role of it is reached or is `skip`: continue
            found = take(resource)
            if found is not None: yield found; reached |= its roles

    When no role is shared between resources with different role sets (the usual case: one role
    per instance profile, per function, per stack), the resources of one role set are tried in id
    order until one is taken, and the rest of them cost nothing. Otherwise the loop runs as written.
    """

    def __init__(self, resources: Iterable[tuple[str, Resource, tuple[str, ...]]]) -> None:
        """`resources`: (id, resource, ids of the identities it runs as), in any order."""
        self._resources = sorted(resources, key=lambda item: item[0])
        groups: dict[frozenset[str], list[tuple[str, Resource, tuple[str, ...]]]] = {}
        for item in self._resources:
            groups.setdefault(frozenset(item[2]), []).append(item)
        owner: dict[str, frozenset[str]] = {}
        disjoint = True
        for roles in groups:
            for role in roles:
                if owner.setdefault(role, roles) != roles:
                    disjoint = False
        self._groups = list(groups.items()) if disjoint else None

    def __len__(self) -> int:
        return len(self._resources)

    def first_per_role(self, skip: Hashable, take: Callable[[str, Resource, tuple[str, ...]], Found | None]
                       ) -> list[Found]:
        """What `take` finds, per the class docstring, in resource id order."""
        if self._groups is None:
            return self._walk(skip, take)
        found: list[tuple[str, Found]] = []
        for roles, members in self._groups:
            if all(role == skip for role in roles):
                continue
            for resource_id, resource, resource_roles in members:
                if resource_id == skip:
                    continue
                answer = take(resource_id, resource, resource_roles)
                if answer is not None:
                    found.append((resource_id, answer))
                    break  # every role of the group is reached now
        found.sort(key=lambda pair: pair[0])
        return [answer for _, answer in found]

    def _walk(self, skip: Hashable, take: Callable[[str, Resource, tuple[str, ...]], Found | None]) -> list[Found]:
        found: list[Found] = []
        reached: set[str] = set()
        for resource_id, resource, roles in self._resources:
            if resource_id == skip or all(role in reached or role == skip for role in roles):
                continue
            answer = take(resource_id, resource, roles)
            if answer is not None:
                found.append(answer)
                reached.update(roles)
        return found
