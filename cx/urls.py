from django.urls import path

from . import views

app_name = "cx"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("bulk/", views.worklist_bulk, name="worklist_bulk"),
    path("customers/<int:customer_pk>/open-case/", views.case_open, name="case_open"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/assign/", views.case_assign, name="case_assign"),
    path("cases/<int:pk>/review/", views.case_start_review, name="case_start_review"),
    path("cases/<int:pk>/decide/", views.case_decide, name="case_decide"),
    path("cases/<int:pk>/reopen/", views.case_reopen, name="case_reopen"),
    path("cases/<int:pk>/approve/", views.case_approve, name="case_approve"),
    path("cases/<int:pk>/reject/", views.case_reject, name="case_reject"),
    path("cases/<int:pk>/close/", views.case_close, name="case_close"),
    path("cases/<int:pk>/note/", views.case_note, name="case_note"),
    path("cases/<int:pk>/checklist/<int:item_pk>/", views.checklist_tick, name="checklist_tick"),
    path("cases/<int:pk>/flags/<int:flag_pk>/", views.case_flag_decide, name="case_flag_decide"),
]
