from django.urls import path

from . import views

app_name = "roles"

urlpatterns = [
    path("blueprints/", views.blueprint_list, name="blueprint_list"),
    path("blueprints/new/", views.blueprint_create, name="blueprint_create"),
    path("blueprints/check/", views.blueprint_check, name="blueprint_check"),
    path("blueprints/<int:pk>/", views.blueprint_detail, name="blueprint_detail"),
    path("blueprints/<int:pk>/edit/", views.blueprint_edit, name="blueprint_edit"),
    path("blueprints/<int:pk>/duplicate/", views.blueprint_duplicate, name="blueprint_duplicate"),
    path("blueprints/<int:pk>/retire/", views.blueprint_retire, name="blueprint_retire"),
    path("charters/assign/", views.charter_assign_many, name="charter_assign_many"),
    path("charters/new/<int:customer_pk>/", views.charter_assign, name="charter_assign"),
    path("charters/<int:pk>/", views.charter_detail, name="charter_detail"),
    path("charters/<int:pk>/edit/", views.charter_edit, name="charter_edit"),
    path("charters/<int:pk>/transition/", views.charter_transition, name="charter_transition"),
    path("charters/<int:pk>/print/", views.charter_print, name="charter_print"),
    path("charters/<int:pk>/compare/", views.charter_compare, name="charter_compare"),
    path("charters/<int:pk>/share/", views.share_link_create, name="share_link_create"),
    path("share-links/<int:pk>/revoke/", views.share_link_revoke, name="share_link_revoke"),
    path("shared/<str:token>/", views.shared_charter, name="shared_charter"),
]
