from __future__ import annotations

from django import forms

from .models import AuditAction


class AuditFilterForm(forms.Form):
    """The audit page's filter. Query parameters: ``action``, ``actor``, ``object_type``,
    ``object_id``, ``since`` and ``until`` (dates, both included)."""

    action = forms.ChoiceField(choices=[("", "Every action"), *AuditAction.choices], required=False)
    actor = forms.CharField(required=False, max_length=150)
    object_type = forms.ChoiceField(choices=[("", "Any object")], required=False)
    object_id = forms.CharField(required=False, max_length=64)
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)

    def __init__(self, *args, object_types: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", "Any object"), *object_types]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range comes before its start.")
        return data

    def filters(self) -> dict:
        """What the selector takes: the valid fields only (an invalid one filters nothing)."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or None for name in self.fields}
