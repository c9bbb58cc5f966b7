"""pipeline-guardrails: find where a cloud estate leaves its CI/CD pipeline open."""

__version__ = "0.1.0"
