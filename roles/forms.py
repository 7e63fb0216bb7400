"""Forms for blueprints and charters, written for account managers: plain labels, the
metric's definition beside it, defaults filled in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.utils import timezone

from commitments.models import CommitmentKind
from economics.metrics import COMPANY, CUSTOMER, METRICS, metrics_for

from .models import Direction, LifecycleStage, RoleBlueprint


def plain(value):
    """35000.0000 → "35000": stored decimals shown without trailing zeros."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def plain_initial(rows: list[dict]) -> list[dict]:
    return [{k: plain(v) for k, v in row.items()} for row in rows]


def metric_choices(side: str, *, blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(m.key, f"{m.name} ({m.unit})") for m in metrics_for(side)]
    return [("", blank), *choices] if blank is not None else choices


def catalogue_for_page() -> dict:
    """What the page's script needs to show a metric's definition and parameter."""
    return {
        m.key: {
            "name": m.name,
            "unit": m.unit,
            "definition": m.definition,
            "direction": m.direction,
            "param": (
                {"label": m.params[0].label, "unit": m.params[0].unit,
                 "default": m.params[0].default}
                if m.params else None
            ),
        }
        for m in METRICS.values()
    }  # fmt: skip


class BlueprintForm(forms.ModelForm):
    class Meta:
        model = RoleBlueprint
        fields = [
            "name",
            "description",
            "relationship_length_months",
            "purchases_per_year",
            "purchase_value",
            "annual_value",
            "lifetime_value",
            "annual_value_growth_pct",
            "referrals_per_year",
            "insights_per_year",
            "cross_sell_products",
        ]
        labels = {
            "name": "Name of the role",
            "purchase_value": "Value of a purchase",
            "annual_value": "Annual value (gross margin a year)",
            "lifetime_value": "Lifetime value",
        }
        help_texts = {
            "name": "How you would call such a customer, e.g. “Strategic partner”.",
            "description": "Who fits this role, in a sentence or two.",
            "relationship_length_months": "How long we expect the relationship to last.",
            "purchase_value": "Revenue of a typical purchase.",
            "annual_value": "Revenue minus cost of goods we expect each year.",
            "lifetime_value": "Gross margin over the whole relationship.",
            "annual_value_growth_pct": "Yearly growth of the annual value, in %.",
            "cross_sell_products": "Products or services we hope to sell them next.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial = {k: plain(v) for k, v in self.initial.items()}
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-5"), Column("description", css_class="col-md-7")),
            Fieldset(
                "What we expect, in numbers",
                Row(
                    Column("relationship_length_months", css_class="col-md-3"),
                    Column("purchases_per_year", css_class="col-md-3"),
                    Column("purchase_value", css_class="col-md-3"),
                    Column("annual_value", css_class="col-md-3"),
                ),
                Row(
                    Column("lifetime_value", css_class="col-md-3"),
                    Column("annual_value_growth_pct", css_class="col-md-3"),
                    Column("referrals_per_year", css_class="col-md-3"),
                    Column("insights_per_year", css_class="col-md-3"),
                ),
                "cross_sell_products",
            ),
        )


class _MetricFields(forms.Form):
    """Metric, its parameter (e.g. target hours), target, direction and weight."""

    side = CUSTOMER

    metric = forms.ChoiceField(required=False)
    param = forms.DecimalField(
        required=False, min_value=0, max_digits=8, decimal_places=2, label="Parameter"
    )
    target = forms.DecimalField(required=False, max_digits=14, decimal_places=4)
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.AT_LEAST)
    weight = forms.DecimalField(min_value=0, max_digits=6, decimal_places=2, initial=Decimal("1"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        blank = "— not measured —" if self.side == COMPANY else "— choose a metric —"
        self.fields["metric"].choices = metric_choices(self.side, blank=blank)
        self.fields["metric"].widget.attrs["data-metric-select"] = "1"

    def metric_params(self) -> dict:
        metric = METRICS.get(self.cleaned_data.get("metric") or "")
        if metric is None or not metric.params:
            return {}
        param = self.cleaned_data.get("param")
        value = float(param) if param is not None else metric.params[0].default
        return {metric.params[0].key: value}


class ExpectationForm(_MetricFields):
    side = CUSTOMER

    stage = forms.ChoiceField(choices=LifecycleStage.choices, widget=forms.HiddenInput)
    excluded = forms.BooleanField(required=False, label="Leave out")
    exclusion_reason = forms.CharField(required=False, max_length=300, label="Why")

    def clean(self):
        data = super().clean()
        if data.get("excluded"):
            if not (data.get("exclusion_reason") or "").strip():
                self.add_error("exclusion_reason", "Say why this is left out of the role.")
            return data
        if not data.get("metric"):
            self.add_error("metric", "Choose how to measure it, or leave it out with a reason.")
        if data.get("target") is None:
            self.add_error("target", "Give a target.")
        return data

    def to_values(self) -> dict:
        d = self.cleaned_data
        return {
            "metric": d.get("metric") or "",
            "metric_params": self.metric_params(),
            "target": d.get("target"),
            "direction": d.get("direction"),
            "weight": d.get("weight") if d.get("weight") is not None else Decimal("1"),
            "excluded": bool(d.get("excluded")),
            "exclusion_reason": (d.get("exclusion_reason") or "").strip(),
        }

    @property
    def stage_label(self) -> str:
        value = self.initial.get("stage") or self.data.get(self.add_prefix("stage"))
        return LifecycleStage(value).label if value else ""


class CommitmentForm(_MetricFields):
    side = COMPANY

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=CommitmentKind.choices)
    title = forms.CharField(max_length=160, required=False)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="What we promise"
    )
    yearly_cost = forms.DecimalField(
        min_value=0, max_digits=14, decimal_places=2, initial=Decimal("0"), label="Yearly cost"
    )

    def clean(self):
        data = super().clean()
        if self.cleaned_data.get("DELETE"):
            return data
        if not (data.get("title") or "").strip():
            started = (
                (data.get("description") or "").strip()
                or data.get("metric")
                or data.get("target") is not None
                or (data.get("yearly_cost") or 0) > 0
            )
            if started or data.get("id"):
                self.add_error("title", "Give the promise a short title.")
            return data
        if data.get("metric") and data.get("target") is None:
            self.add_error("target", "A measured promise needs a target.")
        return data

    def to_values(self) -> dict:
        d = self.cleaned_data
        return {
            "id": d.get("id"),
            "delete": bool(d.get("DELETE")),
            "kind": d.get("kind"),
            "title": (d.get("title") or "").strip(),
            "description": d.get("description") or "",
            "metric": d.get("metric") or "",
            "metric_params": self.metric_params(),
            "target": d.get("target") if d.get("metric") else None,
            "direction": d.get("direction"),
            "weight": d.get("weight") if d.get("weight") is not None else Decimal("1"),
            "yearly_cost": d.get("yearly_cost") or Decimal("0"),
        }


ExpectationFormSet = forms.formset_factory(ExpectationForm, extra=0)
CommitmentFormSet = forms.formset_factory(CommitmentForm, extra=1, can_delete=True)


def first_param(params: dict | None):
    return next(iter((params or {}).values()), None)


# --- charters -------------------------------------------------------------------------


class CharterAssignForm(forms.Form):
    blueprint = forms.ModelChoiceField(
        queryset=RoleBlueprint.objects.filter(status=RoleBlueprint.Status.ACTIVE),
        label="Role blueprint",
        empty_label="— choose a role —",
    )


class CharterAgreeForm(forms.Form):
    agreed_on = forms.DateField(
        label="Agreed on",
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=timezone.localdate,
    )
    agreed_by = forms.CharField(
        label="Signatory on the customer's side", max_length=200,
        help_text="Name and title of the person who agreed.",
    )  # fmt: skip

    def clean_agreed_on(self) -> dt.date:
        value = self.cleaned_data["agreed_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("An agreement cannot be dated in the future.")
        return value


class ShareLinkForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=365, initial=30, label="Valid for (days)")


class OverrideForm(forms.Form):
    """This customer's own target, weight or yearly cost for one item."""

    source_id = forms.IntegerField(widget=forms.HiddenInput)
    target = forms.DecimalField(required=False, max_digits=14, decimal_places=4)
    weight = forms.DecimalField(required=False, min_value=0, max_digits=6, decimal_places=2)
    yearly_cost = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2)
    excluded = forms.BooleanField(required=False, label="Leave out")
    reason = forms.CharField(required=False, max_length=300)

    def clean(self):
        data = super().clean()
        if data.get("excluded") and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why it is left out for this customer.")
        return data


OverrideFormSet = forms.formset_factory(OverrideForm, extra=0)


class TargetOverridesForm(forms.Form):
    """The charter's own quantitative targets; empty means "as the blueprint says"."""

    relationship_length_months = forms.IntegerField(required=False, min_value=0)
    purchases_per_year = forms.DecimalField(required=False, min_value=0, decimal_places=4)
    purchase_value = forms.DecimalField(required=False, min_value=0, decimal_places=2)
    annual_value = forms.DecimalField(required=False, min_value=0, decimal_places=2)
    lifetime_value = forms.DecimalField(required=False, decimal_places=2)
    annual_value_growth_pct = forms.DecimalField(required=False, decimal_places=2)
    referrals_per_year = forms.DecimalField(required=False, min_value=0, decimal_places=4)
    insights_per_year = forms.DecimalField(required=False, min_value=0, decimal_places=4)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
