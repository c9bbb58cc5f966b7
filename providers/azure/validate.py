"""What an Azure snapshot part must hold to be scanned: per subscription, lists of ARM elements."""

from __future__ import annotations

from guardrails.errors import UserError
from guardrails.snapshot import check_items

from .normalize import LISTS

# Every element but a subscription's own record is named by its ARM id.
ID_FIELDS = {name: "id" for name in LISTS if name != "subscription"} | {"subscription": "subscriptionId"}


def validate(data: dict, where: str) -> None:
    subscriptions = data.get("subscriptions", {})
    if not isinstance(subscriptions, dict):
        raise UserError(f"{where}: snapshot 'subscriptions' must be an object")
    for subscription, lists in subscriptions.items():
        if not isinstance(lists, dict):
            raise UserError(f"{where}: subscriptions.{subscription} must be an object of resource lists")
        for name, items in lists.items():
            if name not in LISTS:
                raise UserError(f"{where}: subscriptions.{subscription}.{name} is not a list an Azure snapshot holds "
                                f"(known: {', '.join(LISTS)})")
            check_items(items, f"subscriptions.{subscription}.{name}", ID_FIELDS.get(name), where)
