"""Who gets what from every URL of Tango: one row per named URL, one column per persona,
the expected answer in each cell; and a check that no named URL is missing a row.

Columns, in this order in every row:

    anonymous  owner  other_am  executive  cx  admin  integrator

``owner`` is the account manager whose customer the URL names (or any account manager
where the URL names nothing of a customer's); ``other_am`` another account manager.
The eighth column, ``inactive`` (a user deactivated after signing in), always expects
what ``anonymous`` gets: a deactivated account is signed out, whatever it could do.

The answers:

    login  302 to the sign-in page      401  the API wants credentials
    403    signed in, but not allowed   404  not yours, or not there (the same answer)
    405    not with this method         200, 201, 202, 302, 400: allowed, and what the
                                        request itself asked for came out this way
                                        (a 302 that is not to the sign-in page; a 400
                                        when the empty request body was refused)

The REST API is asked with a session by everyone except the integrator and the
inactive user, who use their tokens. Forms are posted empty or with the least that
gets past the access check; allowed personas must not get 403/404 (nor a 500).
"""

from __future__ import annotations

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from .conftest import PERSONAS, World


def row(cells: str) -> dict[str, str]:
    """One row of the table: the answer for each persona, in the order of the header.
    A user deactivated after signing in gets what anonymous gets."""
    answers = dict(zip(PERSONAS[:-1], cells.split(), strict=True))
    return {**answers, "inactive": answers["anonymous"]}


# The rules, shared by the URLs of an app (and the API's).
# fmt: off
#                          anonymous owner other_am executive cx   admin integrator
OPEN            = row("    200       200   200      200       200  200   200  ")
SIGNED_IN       = row("    login     200   200      200       200  200   200  ")
SIGNED_IN_AWAY  = row("    200       302   302      302       302  302   302  ")  # to home
ALL_TO_LOGIN    = row("    login     login login    login     login login login")
WRONG_METHOD    = row("    405       405   405      405       405  405   405  ")
# customers, roles: admins, executives, account managers and CX read.
READERS         = row("    login     200   200      200       200  200   403  ")
READERS_OWNED   = row("    login     200   404      200       200  200   403  ")
# roles: account managers and admins change blueprints, and charters of their customers.
EDITORS         = row("    login     200   200      403       403  200   403  ")
EDITORS_DONE    = row("    login     302   302      403       403  302   403  ")
OWNER_EDITS     = row("    login     200   404      403       403  200   403  ")
OWNER_DONE      = row("    login     302   404      403       403  302   403  ")
# economics: cost model and runs for admins and executives; the dashboard also CX.
MANAGERS        = row("    login     403   403      200       403  200   403  ")
MANAGERS_DONE   = row("    login     403   403      302       403  302   403  ")
DASHBOARD       = row("    login     403   403      200       200  200   403  ")
# cx: CX and admins work cases; executives read them and approve or reject a let-go;
# an account manager reads their own customers' cases.
WORKLIST        = DASHBOARD
WORKERS_DONE    = row("    login     403   403      403       302  302   403  ")
CASE_READ       = row("    login     200   404      200       200  200   403  ")
CASE_WORK       = row("    login     403   404      403       302  302   403  ")
CASE_DECIDE     = row("    login     403   404      403       200  200   403  ")  # re-shown
APPROVE         = row("    login     403   404      302       403  403   403  ")
REJECT          = row("    login     403   404      200       403  403   403  ")  # re-shown
# imports: admins and integrators.
IMPORTERS       = row("    login     403   403      403       403  200   200  ")
IMPORTERS_DONE  = row("    login     403   403      403       403  302   302  ")
# audit: admins only.
ADMINS          = row("    login     403   403      403       403  200   403  ")
# api: everyone with a persona reads data (an account manager their customers' only);
# admins and integrators write; roles and charters are not the integrator's;
# economics is the admins' and executives'.
API_SIGNED_IN   = row("    401       200   200      200       200  200   200  ")
API_READ_OWNED  = row("    401       200   404      200       200  200   200  ")
API_WRITE       = row("    401       403   403      403       403  400   400  ")  # empty body
API_PATCHED     = row("    401       403   403      403       403  200   200  ")
API_ROLES       = row("    401       200   200      200       200  200   403  ")
API_ROLES_OWNED = row("    401       200   404      200       200  200   403  ")
API_MANAGERS    = row("    401       403   403      200       403  200   403  ")
API_RUN_STARTED = row("    401       403   403      202       403  202   403  ")
# fmt: on


def action(post: dict[str, str]) -> dict[str, dict[str, str]]:
    """A POST-only view: GET is refused whoever asks, POST answers by persona."""
    return {"GET": WRONG_METHOD, "POST": post}


def api_records(kind: str) -> dict[str, dict[str, dict[str, str]]]:
    return {
        f"api:{kind}-list": {"GET": API_SIGNED_IN, "POST": API_WRITE},
        f"api:{kind}-bulk": {"POST": API_WRITE},
        f"api:{kind}-detail": {
            "GET": API_READ_OWNED,
            "PUT": API_WRITE,
            "PATCH": API_PATCHED,
        },
    }


MATRIX: dict[str, dict[str, dict[str, str]]] = {
    # --- config ---------------------------------------------------------------------
    "home": {"GET": SIGNED_IN},
    "healthz": {"GET": OPEN},
    # --- accounts -------------------------------------------------------------------
    "accounts:login": {"GET": SIGNED_IN_AWAY, "POST": SIGNED_IN_AWAY},
    "accounts:logout": {"GET": WRONG_METHOD, "POST": ALL_TO_LOGIN},
    # --- customers ------------------------------------------------------------------
    "customers:list": {"GET": READERS},
    "customers:detail": {"GET": READERS_OWNED},
    "customers:export": {"GET": READERS},
    # --- roles ----------------------------------------------------------------------
    "roles:blueprint_list": {"GET": READERS},
    "roles:blueprint_detail": {"GET": READERS},
    "roles:blueprint_create": {"GET": EDITORS, "POST": EDITORS},
    "roles:blueprint_check": action(EDITORS),
    "roles:blueprint_edit": {"GET": EDITORS, "POST": EDITORS},
    "roles:blueprint_duplicate": action(EDITORS_DONE),
    "roles:blueprint_retire": action(EDITORS_DONE),
    "roles:charter_assign_many": action(EDITORS_DONE),
    "roles:charter_assign": {"GET": OWNER_EDITS, "POST": OWNER_EDITS},
    "roles:charter_detail": {"GET": READERS_OWNED},
    "roles:charter_edit": {"GET": OWNER_EDITS, "POST": OWNER_DONE},  # empty: back to the form
    "roles:charter_transition": action(OWNER_DONE),
    "roles:charter_print": {"GET": READERS_OWNED},
    "roles:charter_compare": {"GET": READERS_OWNED},
    "roles:share_link_create": action(OWNER_DONE),
    "roles:share_link_revoke": action(OWNER_DONE),
    "roles:shared_charter": {"GET": OPEN},  # the customer's view: the token is the key
    # --- economics ------------------------------------------------------------------
    "economics:dashboard": {"GET": DASHBOARD},
    "economics:dashboard_trends": {"GET": DASHBOARD},
    "economics:dashboard_data": {"GET": DASHBOARD},
    "economics:cost_model": {"GET": MANAGERS, "POST": MANAGERS},
    "economics:activity_rate_add": action(MANAGERS_DONE),
    "economics:run_list": {"GET": MANAGERS},
    "economics:run_start": action(MANAGERS_DONE),
    "economics:run_detail": {"GET": MANAGERS},
    "economics:run_progress": {"GET": MANAGERS},
    # --- cx -------------------------------------------------------------------------
    "cx:worklist": {"GET": WORKLIST},
    "cx:worklist_bulk": action(WORKERS_DONE),
    "cx:case_open": action(WORKERS_DONE),
    "cx:case_detail": {"GET": CASE_READ},
    "cx:case_assign": action(CASE_WORK),
    "cx:case_start_review": action(CASE_WORK),
    "cx:case_decide": action(CASE_DECIDE),
    "cx:case_reopen": action(CASE_WORK),
    "cx:case_note": action(CASE_WORK),
    "cx:case_close": action(CASE_WORK),
    "cx:checklist_tick": action(CASE_WORK),
    "cx:case_flag_decide": action(CASE_WORK),
    "cx:case_approve": action(APPROVE),
    "cx:case_reject": action(REJECT),
    # --- imports --------------------------------------------------------------------
    "imports:upload": {"GET": IMPORTERS, "POST": IMPORTERS},
    "imports:history": {"GET": IMPORTERS},
    "imports:history-export": {"GET": IMPORTERS},
    "imports:template": {"GET": IMPORTERS},
    "imports:detail": {"GET": IMPORTERS},
    "imports:progress": {"GET": IMPORTERS},
    "imports:confirm": action(IMPORTERS_DONE),
    "imports:errors": {"GET": IMPORTERS},
    # --- audit ----------------------------------------------------------------------
    "audit:log": {"GET": ADMINS, "POST": WRONG_METHOD},
    "audit:export": {"GET": ADMINS, "POST": WRONG_METHOD},
    # --- api ------------------------------------------------------------------------
    "api:api-root": {"GET": API_SIGNED_IN},
    "api:schema": {"GET": API_SIGNED_IN},
    "api:docs": {"GET": SIGNED_IN},  # a page for people: sessions only
    **api_records("customers"),
    **api_records("orders"),
    **api_records("invoices"),
    **api_records("tickets"),
    **api_records("activities"),
    **api_records("referrals"),
    **api_records("feedback"),
    "api:blueprints-list": {"GET": API_ROLES},
    "api:blueprints-detail": {"GET": API_ROLES},
    "api:charters-list": {"GET": API_ROLES},
    "api:charters-detail": {"GET": API_ROLES_OWNED},
    "api:economics-runs-list": {"GET": API_MANAGERS, "POST": API_RUN_STARTED},
    "api:economics-runs-detail": {"GET": API_MANAGERS},
    "api:cost-model": {"GET": API_MANAGERS, "PATCH": API_MANAGERS},
}

# The names the completeness test does not ask for: Django's own admin site, whose
# access is Django's (staff only) and which lives under /admin/.
EXCLUDED_NAMESPACES = {"admin"}


def url_kwargs(name: str, w: World) -> dict:
    """What fills the URL's parameters: always the owner's objects."""
    case = w.case.pk
    by_name = {
        "customers:detail": {"pk": w.customer.pk},
        "customers:export": {"fmt": "csv"},
        "roles:blueprint_detail": {"pk": w.blueprint.pk},
        "roles:blueprint_edit": {"pk": w.blueprint.pk},
        "roles:blueprint_duplicate": {"pk": w.blueprint.pk},
        "roles:blueprint_retire": {"pk": w.blueprint.pk},
        "roles:charter_assign": {"customer_pk": w.spare.pk},
        "roles:charter_detail": {"pk": w.charter.pk},
        "roles:charter_edit": {"pk": w.charter.pk},
        "roles:charter_transition": {"pk": w.charter.pk},
        "roles:charter_print": {"pk": w.charter.pk},
        "roles:charter_compare": {"pk": w.charter.pk},
        "roles:share_link_create": {"pk": w.charter.pk},
        "roles:share_link_revoke": {"pk": w.share_link.pk},
        "roles:shared_charter": {"token": w.share_token},
        "economics:dashboard_data": {"chart": "kpis", "fmt": "csv"},
        "economics:run_detail": {"pk": w.run.pk},
        "economics:run_progress": {"pk": w.run.pk},
        "cx:case_open": {"customer_pk": w.spare.pk},
        "cx:checklist_tick": {"pk": case, "item_pk": w.checklist_item.pk},
        "cx:case_flag_decide": {"pk": case, "flag_pk": w.flag.pk},
        "imports:history-export": {"fmt": "csv"},
        "imports:template": {"kind": "orders", "fmt": "csv"},
        "imports:detail": {"pk": w.import_job.pk},
        "imports:progress": {"pk": w.import_job.pk},
        "imports:confirm": {"pk": w.import_job.pk},
        "imports:errors": {"pk": w.import_job.pk, "fmt": "csv"},
        "audit:export": {"fmt": "csv"},
        "api:blueprints-detail": {"pk": w.blueprint.pk},
        "api:charters-detail": {"pk": w.charter.pk},
        "api:economics-runs-detail": {"pk": w.run.pk},
    }
    if name in by_name:
        return by_name[name]
    if name.startswith("cx:case_"):
        return {"pk": case}
    if name.startswith("api:") and name.endswith("-detail"):
        return {"external_id": w.records[name.removeprefix("api:").removesuffix("-detail")]}
    return {}


# The least a form needs to get past the access check to what it is about.
POST_DATA = {
    "roles:charter_transition": {"action": "propose"},
}


def is_api(name: str) -> bool:
    """The REST API's URLs, as opposed to pages (its docs are a page for people)."""
    return name.startswith("api:") and name != "api:docs"


CELLS = [
    pytest.param(name, method, persona, id=f"{name} {method} {persona}")
    for name, methods in MATRIX.items()
    for method, row in methods.items()
    for persona in PERSONAS
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "persona"), CELLS)
def test_each_persona_gets_the_answer_the_matrix_gives(world, name, method, persona):
    want = MATRIX[name][method][persona]
    url = reverse(name, kwargs=url_kwargs(name, world))
    api = is_api(name)
    client = world.client(persona, api=api)
    data = POST_DATA.get(name, {})
    if method == "GET":
        response = client.get(url)
    elif api:
        response = client.generic(method, url, json.dumps(data), "application/json")
    else:
        response = client.post(url, data)
    got = str(response.status_code)
    if got == "302":
        location = response["Location"]
        login = reverse("accounts:login")
        got = "login" if location.startswith(login) else "302"
    assert got == want, f"{persona} {method} {url}: {want} expected, got {got}"


def named_urls(resolver: URLResolver | None = None, namespace: str = "") -> set[str]:
    """Every URL name, namespaced as ``reverse`` wants it, through every include."""
    resolver = resolver or get_resolver()
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}{pattern.namespace}:"
            names |= named_urls(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            # A DRF router's format-suffix twin has the same name: one row serves both.
            names.add(f"{namespace}{pattern.name}")
    return names


def test_every_named_url_has_a_row_in_the_matrix():
    names = {n for n in named_urls() if n.split(":", 1)[0] not in EXCLUDED_NAMESPACES}
    missing = sorted(names - MATRIX.keys())
    assert not missing, (
        "These URLs have no access rule in tests/security/test_authorization_matrix.py "
        f"(add a row saying who gets what): {', '.join(missing)}"
    )


def test_the_matrix_has_no_row_for_a_url_that_is_gone():
    stale = sorted(MATRIX.keys() - named_urls())
    assert not stale, f"Rows for URLs that no longer exist: {', '.join(stale)}"


def test_the_completeness_check_would_notice_a_new_page():
    """The walker sees into includes and namespaces, down to a router's routes."""
    names = named_urls()
    assert {"home", "customers:detail", "cx:checklist_tick", "api:orders-bulk"} <= names
