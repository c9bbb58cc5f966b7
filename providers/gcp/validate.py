"""What a GCP snapshot part must hold to be scanned: lists of reply elements under `compute` and
`iam`, and the IAM policies of the project and its ancestors."""

from __future__ import annotations

from guardrails.errors import UserError
from guardrails.snapshot import check_items

ID_FIELDS = {"compute.instances": "name", "compute.networks": "name", "compute.subnetworks": "name",
             "compute.firewalls": "name", "compute.routes": "name", "iam.serviceAccounts": "email"}


def validate(data: dict, where: str) -> None:
    if not isinstance(data.get("scope") or (data.get("project") or {}).get("projectId"), str):
        raise UserError(f"{where}: a GCP snapshot names its project ('scope')")
    for section in ("compute", "iam"):
        lists = data.get(section) or {}
        if not isinstance(lists, dict):
            raise UserError(f"{where}: '{section}' must be an object of resource lists")
        for key, items in lists.items():
            check_items(items, f"{section}.{key}", ID_FIELDS.get(f"{section}.{key}"), where)
    check_items(data.get("iam_policies") or [], "iam_policies", "resource", where)
