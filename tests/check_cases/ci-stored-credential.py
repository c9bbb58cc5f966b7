"""ci-stored-credential: a CI identity holds an active long-lived key."""

from check_cases import Case
from estate_builder import EstateBuilder

USER = "arn:aws:iam::111122223333:user/ci-deployer"
RECENT = "2026-10-01T00:00:00Z"  # a month before the builder's now
OLD = "2025-06-01T00:00:00Z"


def ci_user(*keys, name="ci-deployer", allows=(("s3:PutObject", "arn:aws:s3:::site/*"),), tags=None,
            keys_unknown=False):
    b = EstateBuilder()
    b.user(name, allows=list(allows), keys=list(keys), tags=tags, keys_unknown=keys_unknown)
    return b


def key(created=RECENT, status="active", last_used=None):
    return {"id": "AKIAIOSFODNN7EXAMPLE", "created": created, "status": status, "last_used": last_used}


CASES = [
    Case("a recent key of a CI user with a scoped policy", lambda: ci_user(key()), fires={USER: "medium"}),
    Case("a key older than the rotation limit", lambda: ci_user(key(OLD, last_used=RECENT)), fires={USER: "high"}),
    Case("a recent key of a CI user that is administrator", lambda: ci_user(key(), allows=[("*", "*")]),
         fires={USER: "high"}),
    Case("a CI user tagged ci-role", lambda: ci_user(key(), name="deployer", tags={"ci-role": "runner"}),
         fires={"arn:aws:iam::111122223333:user/deployer": "medium"}),
    Case("an inactive key", lambda: ci_user(key(OLD, status="inactive"))),
    Case("a key of a user who is not CI", lambda: ci_user(key(OLD), name="alice")),
    Case("a CI user without keys", lambda: ci_user()),
    Case("a CI user whose keys were not collected", lambda: ci_user(keys_unknown=True), fires={USER: "medium"}),
]
