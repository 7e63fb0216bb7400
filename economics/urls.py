from django.urls import path

from . import views

app_name = "economics"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/trends/", views.dashboard_trends, name="dashboard_trends"),
    path("dashboard/data/<str:chart>.<str:fmt>", views.dashboard_data, name="dashboard_data"),
    path("cost-model/", views.cost_model, name="cost_model"),
    path("cost-model/rates/", views.activity_rate_add, name="activity_rate_add"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/start/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]
