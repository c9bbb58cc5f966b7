"""The threat models findings are mapped to: STRIDE, the OWASP Top 10 CI/CD Security Risks, CIS
Foundations Benchmarks and NIST SP 800-53. Each check names the entries it evidences (its
`references`); this module holds their names and draws them as SARIF taxonomies."""

from __future__ import annotations

STRIDE = {
    "spoofing": "Spoofing",
    "tampering": "Tampering",
    "repudiation": "Repudiation",
    "information_disclosure": "Information disclosure",
    "denial_of_service": "Denial of service",
    "elevation_of_privilege": "Elevation of privilege",
}

OWASP_CICD = {
    "CICD-SEC-1": "Insufficient Flow Control Mechanisms",
    "CICD-SEC-2": "Inadequate Identity and Access Management",
    "CICD-SEC-3": "Dependency Chain Abuse",
    "CICD-SEC-4": "Poisoned Pipeline Execution (PPE)",
    "CICD-SEC-5": "Insufficient PBAC (Pipeline-Based Access Controls)",
    "CICD-SEC-6": "Insufficient Credential Hygiene",
    "CICD-SEC-7": "Insecure System Configuration",
    "CICD-SEC-8": "Ungoverned Usage of 3rd Party Services",
    "CICD-SEC-9": "Improper Artifact Integrity Validation",
    "CICD-SEC-10": "Insufficient Logging and Visibility",
}

# One SARIF taxonomy per reference kind of a finding: (key in `references`, name, organization,
# information URI, the full list of taxa when the taxonomy is small enough to carry whole).
TAXONOMIES = (
    ("stride", "STRIDE", "Microsoft", "https://learn.microsoft.com/en-us/azure/security/develop/threat-modeling-tool-threats", STRIDE),
    ("owasp_cicd", "OWASP Top 10 CI/CD Security Risks", "OWASP",
     "https://owasp.org/www-project-top-10-ci-cd-security-risks/", OWASP_CICD),
    ("cis", "CIS Foundations Benchmarks", "Center for Internet Security", "https://www.cisecurity.org/cis-benchmarks", None),
    ("nist", "NIST SP 800-53 Rev. 5", "NIST", "https://csrc.nist.gov/pubs/sp/800/53/r5/upd1/final", None),
)


def stride_name(category: str) -> str:
    return STRIDE.get(category, category.replace("_", " ").capitalize())


def owasp_name(risk: str) -> str:
    return OWASP_CICD.get(risk, risk)


def sarif_taxonomies(references: list[dict]) -> tuple[list[dict], dict[tuple[str, str], tuple[int, int]]]:
    """SARIF taxonomies (toolComponents with taxa) covering every reference used, and where each
    (kind, id) sits: (taxonomy index, taxon index). STRIDE and OWASP CI/CD are carried whole."""
    used: dict[str, list[str]] = {key: [] for key, *_ in TAXONOMIES}
    for refs in references:
        for key in used:
            for ref in refs.get(key) or []:
                if isinstance(ref, str) and ref not in used[key]:
                    used[key].append(ref)
    taxonomies, where = [], {}
    for key, name, organization, uri, whole in TAXONOMIES:
        ids = list(whole) + [r for r in used[key] if r not in whole] if whole else sorted(used[key])
        if not ids:
            continue
        index = len(taxonomies)
        taxa = []
        for position, taxon in enumerate(ids):
            entry = {"id": taxon, "name": (whole or {}).get(taxon, taxon)}
            if whole and taxon in whole:
                entry["shortDescription"] = {"text": whole[taxon]}
            taxa.append(entry)
            where[(key, taxon)] = (index, position)
        taxonomies.append({"name": name, "organization": organization, "informationUri": uri,
                           "shortDescription": {"text": f"{name}, as the findings' references name it"},
                           "taxa": taxa})
    return taxonomies, where


def sarif_relationships(refs: dict, where: dict, taxonomies: list[dict]) -> list[dict]:
    """A rule's relationships to the taxa it evidences."""
    out = []
    for key, *_ in TAXONOMIES:
        for ref in refs.get(key) or []:
            if (key, ref) not in where:
                continue
            taxonomy, taxon = where[(key, ref)]
            out.append({"target": {"id": ref, "index": taxon,
                                   "toolComponent": {"name": taxonomies[taxonomy]["name"], "index": taxonomy}},
                        "kinds": ["relevant"]})
    return out
