"""The column reference of every kind of file, as Markdown, from the specs.

``docs/imports.md`` carries this text between two markers; a test keeps it in step
with the specs (``python manage.py shell -c "from imports.reference import markdown;
print(markdown())"`` prints it).
"""

from __future__ import annotations

from .specs import SPECS, describe_range, describe_type

BEGIN = "<!-- columns: generated from imports/specs.py -->"
END = "<!-- /columns -->"


def _empty_means(column) -> str:
    if column.required:
        return "—"
    if column.default is None:
        return "nothing (NULL)"
    if column.default == "":
        return "empty text"
    return f"`{column.default}`"


def markdown() -> str:
    parts = [BEGIN, ""]
    for spec in SPECS.values():
        parts.append(f"### {spec.kind.label} (`{spec.kind.value}`)")
        parts.append("")
        parts.append(spec.description)
        parts.append("")
        parts.append("| column | required | type | range | empty means | meaning |")
        parts.append("|---|---|---|---|---|---|")
        for c in spec.columns:
            parts.append(
                f"| `{c.name}` | {'yes' if c.required else ''} | {describe_type(c)} "
                f"| {describe_range(c)} | {_empty_means(c)} | {c.help} |"
            )
        if spec.rules:
            parts.append("")
            parts.extend(f"- {rule.describe()}" for rule in spec.rules)
        parts.append("")
    parts.append(END)
    return "\n".join(parts)
