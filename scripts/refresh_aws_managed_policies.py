"""Regenerate providers/aws/data/aws-managed-policies.json.xz, the offline catalogue of AWS managed
policy documents a Terraform plan may attach by ARN alone, from the copy the AWS emulator moto
ships (`pip install moto`; Apache-2.0). Run from the repository root:

    python scripts/refresh_aws_managed_policies.py
"""

from __future__ import annotations

import ast
import importlib.util
import json
import lzma
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "providers" / "aws" / "data" / "aws-managed-policies.json.xz"


def main() -> None:
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("moto is not installed: pip install moto")
    source = Path(list(spec.submodule_search_locations)[0]) / "iam" / "aws_managed_policies.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "aws_managed_policies_data" for t in node.targets):
            data = json.loads(ast.literal_eval(node.value))
            break
    else:
        raise SystemExit(f"{source}: no aws_managed_policies_data")
    documents = {name: item["Document"] for name, item in data.items() if isinstance(item.get("Document"), dict)}
    raw = json.dumps(documents, separators=(",", ":"), sort_keys=True).encode()
    TARGET.write_bytes(lzma.compress(raw, preset=9))
    print(f"{len(documents)} policies written to {TARGET}")


if __name__ == "__main__":
    main()
