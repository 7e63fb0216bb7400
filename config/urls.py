from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("imports/", include("imports.urls")),
    path("api/", include("api.urls")),
    path("roles/", include("roles.urls")),
    path("economics/", include("economics.urls")),
    path("cx/", include("cx.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
]
