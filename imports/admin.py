from django.contrib import admin, messages

from . import services
from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "origin",
        "file_name",
        "created_by",
        "created_at",
        "rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
    ]
    list_filter = ["kind", "status", "origin"]
    search_fields = ["file_name", "created_by__username"]
    list_select_related = ["created_by"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
    actions = ["mark_failed"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Mark as failed (the worker running it died)")
    def mark_failed(self, request, queryset):
        done = sum(
            services.import_job_mark_failed(job=job, reason="Marked as failed by an admin.")
            for job in queryset
        )
        self.message_user(request, f"{done} import(s) marked as failed.", messages.SUCCESS)
