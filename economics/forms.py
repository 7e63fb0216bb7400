from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.utils import timezone

from customers.models import ActivityType

from .models import CostModel


class CostModelForm(forms.ModelForm):
    class Meta:
        model = CostModel
        fields = [
            "ticket_handling_cost",
            "complaint_handling_cost",
            "collection_cost_per_late_invoice",
            "cost_of_capital_rate",
            "annual_discount_rate",
            "forecast_horizon_months",
            "role_fit_threshold",
            "compliance_threshold",
            "costly_to_serve_ratio",
            "unhappy_complaints_multiple",
            "unhappy_min_complaints_per_year",
            "unhappy_forgiveness_below",
            "at_risk_p_alive_below",
            "runs_kept",
            "nightly_run",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                "What serving costs",
                Row(
                    Column("ticket_handling_cost", css_class="col-md-4"),
                    Column("complaint_handling_cost", css_class="col-md-4"),
                    Column("collection_cost_per_late_invoice", css_class="col-md-4"),
                ),
                Row(Column("cost_of_capital_rate", css_class="col-md-4")),
            ),
            Fieldset(
                "The future",
                Row(
                    Column("annual_discount_rate", css_class="col-md-4"),
                    Column("forecast_horizon_months", css_class="col-md-4"),
                ),
            ),
            Fieldset(
                "Classes and flags",
                Row(
                    Column("role_fit_threshold", css_class="col-md-4"),
                    Column("compliance_threshold", css_class="col-md-4"),
                    Column("costly_to_serve_ratio", css_class="col-md-4"),
                ),
                Row(
                    Column("unhappy_complaints_multiple", css_class="col-md-4"),
                    Column("unhappy_min_complaints_per_year", css_class="col-md-4"),
                    Column("unhappy_forgiveness_below", css_class="col-md-4"),
                ),
                Row(Column("at_risk_p_alive_below", css_class="col-md-4")),
            ),
            Fieldset(
                "Runs",
                Row(
                    Column("runs_kept", css_class="col-md-4"),
                    Column("nightly_run", css_class="col-md-4 pt-4"),
                ),
            ),
        )


class ActivityRateForm(forms.Form):
    activity_type = forms.ModelChoiceField(queryset=ActivityType.objects.all())
    effective_from = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate
    )
    unit_cost = forms.DecimalField(min_value=0, max_digits=14, decimal_places=2)


class RunForm(forms.Form):
    as_of = forms.DateField(
        label="Figures as of", widget=forms.DateInput(attrs={"type": "date"}),
        initial=timezone.localdate,
    )  # fmt: skip
    holdout_end = forms.DateField(
        label="Check predictions up to (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Fit on data up to the as-of date and compare with what happened after.",
    )

    def clean(self):
        data = super().clean()
        as_of, end = data.get("as_of"), data.get("holdout_end")
        if as_of and as_of > timezone.localdate():
            self.add_error("as_of", "The figures cannot be as of a future date.")
        if as_of and end and end <= as_of:
            self.add_error("holdout_end", "The check must end after the as-of date.")
        if end and end > timezone.localdate():
            self.add_error("holdout_end", "What happened after today is not known yet.")
        return data
