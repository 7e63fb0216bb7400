"""Forms of the worklist and the case page. They validate input; the rules live in
the services."""

from __future__ import annotations

import datetime as dt

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils import timezone
from django.utils.text import slugify

from economics.models import CustomerFlag

from .models import Case


class _Button(Submit):
    """A submit button whose colour is ours to choose (crispy's carries btn-primary)."""

    field_classes = "btn"


def _helper(action: str, label: str, *, css: str = "btn-tango", testid: str = "") -> FormHelper:
    helper = FormHelper()
    helper.form_method = "post"
    helper.form_action = action
    slug = testid or slugify(label)
    helper.add_input(
        _Button("submit", label, css_class=css, css_id=f"submit-{slug}", data_testid=testid or None)
    )
    return helper


def _tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


def _future(value: dt.date) -> dt.date:
    if value <= timezone.localdate():
        raise forms.ValidationError("Snooze until a date in the future.")
    return value


class BulkActionForm(forms.Form):
    """What to do with the rows ticked on the worklist."""

    ACTIONS = [
        ("open_cases", "Open cases"),
        ("assign_to_me", "Assign the cases to me"),
        ("snooze", "Snooze their flags"),
        ("accept", "Accept their flags"),
    ]

    action = forms.ChoiceField(choices=ACTIONS)
    customers = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    until = forms.DateField(
        required=False,
        label="Snooze until",
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=lambda: _tomorrow() + dt.timedelta(days=29),
    )

    def __init__(self, *args, customer_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the view keeps only customers the user may see.
        self.fields["customers"].choices = [(pk, pk) for pk in customer_ids]
        self.fields["customers"].error_messages["required"] = "Tick at least one customer."

    def clean(self) -> dict:
        data = super().clean()
        if data.get("action") == "snooze":
            until = data.get("until")
            if until is None:
                self.add_error("until", "Choose the date the flags come back.")
            elif until <= timezone.localdate():
                self.add_error("until", "Snooze until a date in the future.")
        return data


class CaseAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody")

    def __init__(self, *args, workers, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = workers
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username
        self.helper = _helper(action, "Assign", css="btn-outline-primary")


class CaseDecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[c for c in Case.Decision.choices if c[0]],
        widget=forms.RadioSelect,
        label="Decision",
    )
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Rationale",
        help_text="Why this decision — what you looked at, what you expect to change.",
    )

    def __init__(self, *args, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(action, "Record the decision", testid="decide")

    def clean_rationale(self) -> str:
        value = self.cleaned_data["rationale"].strip()
        if not value:
            raise forms.ValidationError("Say why: the rationale is part of the decision.")
        return value


class NoteForm(forms.Form):
    """An optional note with a transition (reopen, approve, close) or on its own."""

    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Note (optional)"
    )

    def __init__(
        self,
        *args,
        action: str,
        label: str,
        css: str = "btn-tango",
        required: bool = False,
        note_label: str = "",
        testid: str = "",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = required
        if note_label:
            self.fields["note"].label = note_label
        self.helper = _helper(action, label, css=css, testid=testid)


class FlagDecisionForm(forms.Form):
    """Accept, dismiss (with a reason) or snooze (until a date) one flag; compact, one
    row per flag on the case page."""

    decision = forms.ChoiceField(
        choices=[("", "Decide…"), *[c for c in CustomerFlag.Decision.choices if c[0]]],
        label="Decision",
        widget=forms.Select(attrs={"class": "form-select form-select-sm w-auto"}),
    )
    reason = forms.CharField(
        required=False,
        max_length=1000,
        label="Reason",
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-sm", "placeholder": "Reason"}
        ),
    )
    snoozed_until = forms.DateField(
        required=False,
        label="Snooze until",
        widget=forms.DateInput(
            attrs={"type": "date", "class": "form-control form-control-sm w-auto"}
        ),
        initial=lambda: _tomorrow() + dt.timedelta(days=29),
    )

    def clean(self) -> dict:
        data = super().clean()
        decision = data.get("decision")
        if decision == CustomerFlag.Decision.DISMISSED and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why this flag is dismissed.")
        if decision == CustomerFlag.Decision.SNOOZED:
            until = data.get("snoozed_until")
            if until is None:
                self.add_error("snoozed_until", "Choose the date the flag comes back.")
            else:
                try:
                    _future(until)
                except forms.ValidationError as exc:
                    self.add_error("snoozed_until", exc)
        return data
