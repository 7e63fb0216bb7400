from django.urls import include, path
from rest_framework.routers import DefaultRouter

from economics.api import CostModelView, EconomicsRunViewSet

from . import views

app_name = "api"

router = DefaultRouter()
for kind, viewset in views.RECORD_VIEWSETS.items():
    router.register(kind, viewset, basename=kind)
router.register("blueprints", views.BlueprintViewSet, basename="blueprints")
router.register("charters", views.CharterViewSet, basename="charters")
router.register("economics/runs", EconomicsRunViewSet, basename="economics-runs")

urlpatterns = [
    path("schema/", views.schema_view, name="schema"),
    path("docs/", views.docs_view, name="docs"),
    path("v1/economics/cost-model/", CostModelView.as_view(), name="cost-model"),
    path("v1/", include(router.urls)),
]
