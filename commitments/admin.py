from django.contrib import admin

from .models import Commitment, CommitmentOverride


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    list_display = ["title", "blueprint", "kind", "metric", "target", "yearly_cost"]
    list_filter = ["kind", "blueprint"]
    search_fields = ["title", "description"]


@admin.register(CommitmentOverride)
class CommitmentOverrideAdmin(admin.ModelAdmin):
    list_display = ["charter", "commitment", "target", "yearly_cost", "excluded"]
    raw_id_fields = ["charter"]
