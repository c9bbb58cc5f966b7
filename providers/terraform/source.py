"""A plan or state translated into AWS and GCP snapshot parts, in memory.

    snapshots = load_terraform("plan.json")      # list of snapshot dicts (source "terraform")

Ids in the snapshot are resource addresses; see docs/snapshot-format.md, "Terraform translation".
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from guardrails import __version__ as tool_version
from guardrails.snapshot import FORMAT, VERSION

from .aws import ASSIGNED_AT_APPLY, AwsTranslator
from .google import GoogleTranslator, is_google
from .hcl import SourceLocator
from .links import Linker
from .load import TerraformInputError, TfDocument, read_document

__all__ = ["load_terraform", "translate_document", "TerraformInputError", "ASSIGNED_AT_APPLY"]


def load_terraform(path: str | Path) -> list[dict]:
    """Snapshots translated from the Terraform plan or state at PATH (a file, or a directory with one):
    the AWS part, the Azure part when the plan holds azurerm resources and the GCP part when it holds
    google resources (only those when it holds nothing else)."""
    doc = read_document(path)
    has_azure = any(r.type.startswith("azurerm_") for r in doc.resources)
    has_google = any(is_google(r) for r in doc.resources)
    if not has_azure and not has_google:
        return [translate_document(doc)]
    parts = []
    if any(r.type.startswith("aws_") for r in doc.resources):
        aws = translate_document(doc)
        parts.append(aws)
    if has_azure:
        azure = translate_azure(doc)
        if parts:
            translated = set(azure["terraform"]["translated_resource_types"])
            ignored = {t: n for t, n in aws["terraform"]["ignored_resource_types"].items() if t not in translated}
            aws["terraform"]["ignored_resource_types"] = ignored
            aws["notes"] = [n for n in aws["notes"] if not n.startswith("Resource types not read")]
            if ignored:
                aws["notes"].append("Resource types not read by the scanner were ignored: "
                                    + ", ".join(f"{t} ({n})" for t, n in sorted(ignored.items())))
        parts.append(azure)
    if has_google:  # google_* resources become a GCP snapshot part
        parts.append(translate_google(doc))
    return parts


def translate_google(doc: TfDocument) -> dict:
    """The plan's or state's google_* resources as a GCP snapshot part."""
    locator = SourceLocator(doc.path.parent, doc.configuration)
    part = GoogleTranslator(doc, Linker(doc)).translate()
    by_address = {r.address: r for r in doc.resources}
    for group in list(part["compute"].values()) + [part["iam"]["serviceAccounts"]]:
        for el in group:
            res = by_address.get(el.get("_address"))
            loc = res and locator.locate(Linker.config_path_of(res.module_address), res.mode, res.type, res.name)
            if loc:
                el["_source_location"] = dict(loc, uri=(doc.path.parent / loc["uri"]).as_posix())
    if doc.kind == "plan" and doc.configuration is None:
        part["notes"].append("The plan has no configuration section: values unknown until apply cannot be traced")
    return {"format": FORMAT, "version": VERSION, "tool_version": tool_version,
            "collected_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            **part, "terraform": {"kind": doc.kind, "terraform_version": doc.terraform_version,
                                  "resources": len(doc.resources)}}


def translate_azure(doc: TfDocument) -> dict:
    """The plan's azurerm resources as an Azure snapshot part (providers/terraform/azure.py)."""
    from .azure import AzureTranslator

    source = str(doc.path)
    tr = AzureTranslator(doc, Linker(doc), source)
    tr.translate()
    notes = list(tr.notes)
    ignored = sorted({r.type for r in doc.resources if r.mode == "managed" and r.type.startswith("azurerm_")}
                     - set(tr.translated))
    if ignored:
        notes.append("Azure resource types not read by the scanner were ignored: " + ", ".join(ignored))
    if doc.kind == "plan" and doc.configuration is None:
        notes.append("The plan has no configuration section: values unknown until apply cannot be traced")
    return {
        "format": FORMAT,
        "version": VERSION,
        "tool_version": tool_version,
        "collected_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "provider": "azure",
        "source": "terraform",
        "scope": source,
        "terraform": {"kind": doc.kind, "terraform_version": doc.terraform_version, "resources": len(doc.resources),
                      "translated_resource_types": sorted(tr.translated)},
        "subscriptions": {tr.subscription: tr.snapshot_part()},
        "gaps": _dedup_gaps(tr.gaps),
        "notes": notes,
    }


def translate_document(doc: TfDocument) -> dict:
    source = str(doc.path)
    linker = Linker(doc)
    locator = SourceLocator(doc.path.parent, doc.configuration)
    tr = AwsTranslator(doc, linker, source, locator)
    tr.translate()
    _add_source_locations(doc, tr, locator)
    notes = list(tr.notes)
    if tr.ignored:
        kinds = ", ".join(f"{t} ({n})" for t, n in sorted(tr.ignored.items()))
        notes.append(f"Resource types not read by the scanner were ignored: {kinds}")
    if doc.kind == "plan" and doc.configuration is None:
        notes.append("The plan has no configuration section: values unknown until apply cannot be traced")
    return {
        "format": FORMAT,
        "version": VERSION,
        "tool_version": tool_version,
        "collected_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "provider": "aws",
        "source": "terraform",
        "scope": source,
        "account": {"id": tr.account, "aliases": []},
        "terraform": {"kind": doc.kind, "terraform_version": doc.terraform_version,
                      "resources": len(doc.resources), "ignored_resource_types": dict(tr.ignored)},
        "regions": {tr.region: tr.lists},
        "iam": tr.iam,
        "gaps": _dedup_gaps(tr.gaps),
        "notes": notes,
    }


def _dedup_gaps(gaps: list[dict]) -> list[dict]:
    seen, out = set(), []
    for g in gaps:
        key = (g["what"], g["error"])
        if key not in seen:
            seen.add(key)
            out.append(g)
    return out


def _add_source_locations(doc: TfDocument, tr: AwsTranslator, locator: SourceLocator) -> None:
    by_address = {r.address: r for r in doc.resources}
    for group in list(tr.lists.values()) + list(tr.iam.values()):
        for el in group:
            res = by_address.get(el.get("_address"))
            if res is None:
                continue
            loc = locator.locate(Linker.config_path_of(res.module_address), res.mode, res.type, res.name)
            if loc:
                # As the plan's own path was given: relative to where the scan ran, like the plan.
                el["_source_location"] = dict(loc, uri=(doc.path.parent / loc["uri"]).as_posix())

