from __future__ import annotations

from pathlib import PurePath

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.conf import settings

from .reading import too_large_message
from .specs import ORDER_LIKE, Kind

EXTENSIONS = (".csv", ".xlsx", ".txt")


def max_upload_bytes() -> int:
    return settings.IMPORT_MAX_BYTES


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label="What the file holds", choices=Kind.choices)
    file = forms.FileField(
        help_text="CSV (UTF-8, comma or semicolon) or XLSX; dates as YYYY-MM-DD, "
        "amounts with a dot."
    )
    create_missing_customers = forms.BooleanField(
        required=False,
        label="Create customers the file names but Tango does not know yet",
        help_text="For orders, invoices, tickets, activities, referrals and feedback: "
        "a new customer is created with its external id as name.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_id = "import-upload"
        self.helper.attrs = {"enctype": "multipart/form-data"}
        self.helper.add_input(Submit("submit", "Upload and check", css_class="btn-tango"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if PurePath(upload.name or "").suffix.lower() not in EXTENSIONS:
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(too_large_message(upload.size, max_upload_bytes()))
        return upload

    def clean(self):
        data = super().clean()
        if data.get("create_missing_customers") and data.get("kind") not in ORDER_LIKE:
            self.add_error(
                "create_missing_customers", "Only files that name customers can create them."
            )
        return data
