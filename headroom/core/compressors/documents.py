"""Detection of structured documents: CSV/TSV tables, YAML, XML and OpenAPI/JSON Schema documents.

One entry point for the router, so the kinds of one family are told apart in one place (an OpenAPI
document in YAML is OpenAPI before it is YAML; a JUnit report is XML). Each detector is confident only
on evidence over the whole output (a share of its lines or records that parse as the format).
"""
from __future__ import annotations

__all__ = ["detect_document", "detect_json_document"]


def detect_json_document(doc: object) -> str | None:
    """"openapi" for a parsed OpenAPI/Swagger or JSON Schema document, else None (plain JSON)."""
    from headroom.core.compressors.openapi import looks_like_openapi

    return "openapi" if looks_like_openapi(doc) else None


def detect_document(text: str, lines: list[str]) -> str | None:
    """The kind of a structured document ("csv", "yaml", "xml", "openapi"), or None."""
    stripped = text.lstrip()
    if stripped[:1] == "<":
        from headroom.core.compressors import html, xmldoc  # imported only for markup (xml.etree costs)

        if not html.looks_like_html(stripped) and xmldoc.looks_like_xml(stripped.rstrip()):
            return "xml"
        return None
    from headroom.core.compressors import delimited, yamldoc

    if delimited.looks_like_delimited(text):
        return "csv"
    if yamldoc.looks_like_yaml(lines):
        return "yaml"
    return None
