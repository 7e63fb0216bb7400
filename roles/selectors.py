"""Reads for blueprints, charters and the mutual scorecard."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from commitments.models import Commitment, CommitmentKind
from economics.metrics import METRICS, get_metric
from economics.metrics.data import load_metric_data
from economics.metrics.scoring import attainment, weighted_score

from .consistency import Finding, check_blueprint
from .models import Charter, LifecycleExpectation, LifecycleStage, RoleBlueprint

TREND_POINTS = 4  # today and the three quarters before
QUARTER = dt.timedelta(days=91)


# --- lists ----------------------------------------------------------------------------


def blueprint_list(*, include_retired: bool = True) -> QuerySet[RoleBlueprint]:
    qs = RoleBlueprint.objects.annotate(
        charter_count=Count(
            "charters", filter=~Q(charters__status=Charter.Status.SUPERSEDED), distinct=True
        ),
        commitment_cost=Sum("commitments__yearly_cost"),
    ).order_by("status", "name")
    if not include_retired:
        qs = qs.filter(status=RoleBlueprint.Status.ACTIVE)
    return qs


def blueprint_detail(pk: int) -> RoleBlueprint:
    return RoleBlueprint.objects.prefetch_related(
        Prefetch("expectations", LifecycleExpectation.objects.order_by("stage")),
        Prefetch("commitments", Commitment.objects.order_by("kind", "title")),
    ).get(pk=pk)


def open_charters(*, user) -> QuerySet[Charter]:
    """Charters still in draft or proposed among the customers the user may see."""
    return (
        Charter.objects.visible_to(user)
        .filter(status__in=[Charter.Status.DRAFT, Charter.Status.PROPOSED])
        .select_related("customer", "blueprint")
        .order_by("customer__name")
    )


def current_charter(customer) -> Charter | None:
    """The charter to show for a customer: the newest that is not superseded (a new
    draft takes precedence over the agreed one it will replace)."""
    return (
        Charter.objects.filter(customer=customer)
        .exclude(status=Charter.Status.SUPERSEDED)
        .select_related("blueprint")
        .order_by("-version")
        .first()
    )


def agreed_charter(customer) -> Charter | None:
    return (
        Charter.objects.filter(customer=customer, status=Charter.Status.AGREED)
        .select_related("blueprint")
        .first()
    )


def charter_versions(customer) -> list[Charter]:
    return list(
        Charter.objects.filter(customer=customer).select_related("blueprint").order_by("-version")
    )


# --- effective targets ----------------------------------------------------------------


@dataclass
class Item:
    """One expectation or commitment as it applies to a customer, overrides included."""

    side: str  # "customer" or "company"
    key: str  # stage, or commitment id
    label: str
    description: str
    metric: str
    metric_name: str
    unit: str
    params: dict
    target: Decimal | None
    direction: str
    weight: Decimal
    excluded: bool
    reason: str
    overridden: bool = False
    yearly_cost: Decimal = Decimal("0")
    source_id: int | None = None
    kind_label: str = ""

    @property
    def measurable(self) -> bool:
        return bool(self.metric) and self.target is not None and not self.excluded


def _metric_meta(key: str) -> tuple[str, str]:
    metric = METRICS.get(key)
    return (metric.name, metric.unit) if metric else ("", "")


def effective_expectations(blueprint: RoleBlueprint, charter: Charter | None = None) -> list[Item]:
    overrides = (
        {o.expectation_id: o for o in charter.expectation_overrides.all()} if charter else {}
    )
    items = []
    by_stage = {e.stage: e for e in blueprint.expectations.all()}
    for stage in LifecycleStage:
        e = by_stage.get(stage.value)
        if e is None:
            continue
        o = overrides.get(e.pk)
        name, unit = _metric_meta(e.metric)
        item = Item(
            side="customer",
            key=stage.value,
            label=stage.label,
            description=METRICS[e.metric].definition if e.metric in METRICS else "",
            metric=e.metric,
            metric_name=name,
            unit=unit,
            params=e.metric_params or {},
            target=e.target,
            direction=e.direction,
            weight=e.weight,
            excluded=e.excluded,
            reason=e.exclusion_reason,
            source_id=e.pk,
        )
        if o is not None:
            item.overridden = True
            if o.target is not None:
                item.target = o.target
            if o.weight is not None:
                item.weight = o.weight
            if o.excluded:
                item.excluded, item.reason = True, o.reason
        items.append(item)
    return items


def effective_commitments(blueprint: RoleBlueprint, charter: Charter | None = None) -> list[Item]:
    overrides = {o.commitment_id: o for o in charter.commitment_overrides.all()} if charter else {}
    items = []
    kind_order = {k: i for i, k in enumerate(CommitmentKind.values)}
    for c in sorted(blueprint.commitments.all(), key=lambda c: (kind_order[c.kind], c.title)):
        o = overrides.get(c.pk)
        name, unit = _metric_meta(c.metric)
        item = Item(
            side="company",
            key=str(c.pk),
            label=c.title,
            description=c.description,
            metric=c.metric,
            metric_name=name,
            unit=unit,
            params=c.metric_params or {},
            target=c.target,
            direction=c.direction,
            weight=c.weight,
            excluded=False,
            reason="",
            yearly_cost=c.yearly_cost,
            source_id=c.pk,
            kind_label=CommitmentKind(c.kind).label,
        )
        if o is not None:
            item.overridden = True
            if o.target is not None and c.metric:
                item.target = o.target
            if o.yearly_cost is not None:
                item.yearly_cost = o.yearly_cost
            if o.excluded:
                item.excluded, item.reason = True, o.reason
        items.append(item)
    return items


def plain(value) -> str:
    """A stored number as people write it: 35000.0000 → "35000"."""
    if value in (None, ""):
        return ""
    if isinstance(value, (Decimal, int, float)) or str(value).replace(".", "", 1).isdigit():
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


def effective_targets(charter: Charter) -> dict[str, str]:
    """The quantitative targets of the charter: the blueprint's, overridden where the
    charter says so."""
    from .services import BLUEPRINT_TARGET_FIELDS

    values = {name: plain(getattr(charter.blueprint, name)) for name in BLUEPRINT_TARGET_FIELDS}
    values.update({k: plain(v) for k, v in (charter.target_overrides or {}).items()})
    return values


def commitments_yearly_cost(charter: Charter) -> Decimal:
    return sum(
        (
            i.yearly_cost
            for i in effective_commitments(charter.blueprint, charter)
            if not i.excluded
        ),
        Decimal("0"),
    )


def charter_snapshot(charter: Charter) -> dict:
    """Everything a version says, as plain JSON, so two versions can be compared even
    after the blueprint changes."""

    def plain(item: Item) -> dict:
        d = asdict(item)
        d["target"] = None if item.target is None else str(item.target)
        d["weight"] = str(item.weight)
        d["yearly_cost"] = str(item.yearly_cost)
        return {k: d[k] for k in ["key", "label", "metric", "params", "target", "direction",
                                  "weight", "excluded", "reason", "yearly_cost"]}  # fmt: skip

    return {
        "version": charter.version,
        "status": charter.status,
        "blueprint": charter.blueprint.name,
        "targets": effective_targets(charter),
        "expectations": [plain(i) for i in effective_expectations(charter.blueprint, charter)],
        "commitments": [plain(i) for i in effective_commitments(charter.blueprint, charter)],
        "agreed_on": charter.agreed_on.isoformat() if charter.agreed_on else None,
        "agreed_by": charter.agreed_by,
    }


@dataclass
class Difference:
    section: str
    label: str
    before: str
    after: str


def compare_snapshots(a: dict, b: dict) -> list[Difference]:
    out: list[Difference] = []
    if a["blueprint"] != b["blueprint"]:
        out.append(Difference("Role", "Blueprint", a["blueprint"], b["blueprint"]))
    for key in sorted(set(a["targets"]) | set(b["targets"])):
        before, after = a["targets"].get(key, ""), b["targets"].get(key, "")
        if before != after:
            out.append(Difference("Targets", key.replace("_", " "), before, after))
    for section, name in (("expectations", "We ask of you"), ("commitments", "We promise you")):
        left = {i["label"]: i for i in a[section]}
        right = {i["label"]: i for i in b[section]}
        for label in list(dict.fromkeys([*left, *right])):
            x, y = left.get(label), right.get(label)
            if x == y:
                continue
            out.append(Difference(name, label, _describe(x), _describe(y)))
    return out


def _describe(item: dict | None) -> str:
    if item is None:
        return "—"
    if item["excluded"]:
        return f"left out: {item['reason']}"
    parts = []
    if item["metric"]:
        sign = "≥" if item["direction"] == "at_least" else "≤"
        parts.append(f"{item['metric'].replace('_', ' ')} {sign} {item['target']}")
        if item["params"]:
            parts.append(", ".join(f"{k} {v}" for k, v in item["params"].items()))
    parts.append(f"weight {item['weight']}")
    if Decimal(item.get("yearly_cost") or 0):
        parts.append(f"costs {item['yearly_cost']} a year")
    return "; ".join(parts)


def blueprint_findings(blueprint: RoleBlueprint) -> list[Finding]:
    from .services import BLUEPRINT_TARGET_FIELDS

    return check_blueprint(
        {f: getattr(blueprint, f) for f in BLUEPRINT_TARGET_FIELDS},
        [
            {
                "stage": e.stage,
                "stage_label": e.get_stage_display(),
                "metric": e.metric,
                "target": e.target,
                "weight": e.weight,
                "excluded": e.excluded,
                "exclusion_reason": e.exclusion_reason,
            }
            for e in blueprint.expectations.all()
        ],
        [{"title": c.title, "yearly_cost": c.yearly_cost} for c in blueprint.commitments.all()],
        currency=settings.TANGO_CURRENCY,
    )


# --- the mutual scorecard -------------------------------------------------------------


@dataclass
class ScoreRow:
    item: Item
    actual: float | None
    attainment: float | None
    trend: list[float | None] = field(default_factory=list)


@dataclass
class Scorecard:
    as_of: dt.date
    charter: Charter | None
    customer_rows: list[ScoreRow]
    company_rows: list[ScoreRow]
    role_fit: float | None
    compliance: float | None
    trend_dates: list[dt.date]
    role_fit_trend: list[float | None]
    compliance_trend: list[float | None]

    @property
    def sides(self) -> list[dict]:
        return [
            {
                "key": "role-fit",
                "title": "The customer's side: what we ask",
                "item_label": "Expectation",
                "score": self.role_fit,
                "score_label": "role fit",
                "rows": self.customer_rows,
            },
            {
                "key": "compliance",
                "title": "Our side: what we promise",
                "item_label": "Commitment",
                "score": self.compliance,
                "score_label": "compliance",
                "rows": self.company_rows,
            },
        ]


def _none(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def _score_side(items: list[Item], datas: list, customer_id: int) -> tuple[list[ScoreRow], list]:
    rows = []
    per_point: list[list[tuple[float, float]]] = [[] for _ in datas]
    for item in items:
        values, atts = [], []
        for i, data in enumerate(datas):
            if not item.metric or item.metric not in METRICS:
                values.append(None)
                atts.append(None)
                continue
            actual = float(get_metric(item.metric)(data, item.params)[customer_id])
            att = (
                float(attainment([actual], float(item.target), item.direction)[0])
                if item.target is not None
                else np.nan
            )
            values.append(_none(actual))
            atts.append(_none(att))
            if item.measurable:
                per_point[i].append((att, float(item.weight)))
        rows.append(ScoreRow(item=item, actual=values[0], attainment=atts[0], trend=values[::-1]))
    scores = []
    for pairs in per_point:
        if not pairs:
            scores.append(None)
            continue
        att = np.array([[a for a, _ in pairs]])
        w = np.array([w for _, w in pairs])
        scores.append(_none(weighted_score(att, w)[0]))
    return rows, scores


def mutual_scorecard(
    customer, *, as_of: dt.date | None = None, charter: Charter | None = None
) -> Scorecard:
    """Both sides of the relationship for one customer, from the metric catalogue, as of
    a date, with the three quarters before for the trend. Uses the agreed charter, or
    the one in the making when none is agreed yet."""
    from django.utils import timezone

    as_of = as_of or timezone.localdate()
    charter = charter or agreed_charter(customer) or current_charter(customer)
    dates = [as_of - QUARTER * k for k in range(TREND_POINTS)]
    if charter is None:
        return Scorecard(as_of, None, [], [], None, None, dates[::-1], [], [])
    data = load_metric_data(as_of=as_of, customer_ids=[customer.pk])
    datas = [data] + [data.truncate(d) for d in dates[1:]]
    expectations = effective_expectations(charter.blueprint, charter)
    commitments = effective_commitments(charter.blueprint, charter)
    customer_rows, fit = _score_side(expectations, datas, customer.pk)
    company_rows, compliance = _score_side(commitments, datas, customer.pk)
    return Scorecard(
        as_of=as_of,
        charter=charter,
        customer_rows=customer_rows,
        company_rows=company_rows,
        role_fit=fit[0],
        compliance=compliance[0],
        trend_dates=dates[::-1],
        role_fit_trend=fit[::-1],
        compliance_trend=compliance[::-1],
    )


SCORECARD_SECONDS = 5 * 60


def cached_scorecard(customer) -> Scorecard:
    """The customer page's scorecard, computed at most every five minutes per customer
    (it reads the customer's whole history four times, for the trend). The charter's
    last change and the date are part of the key: an edited charter shows at once."""
    from django.core.cache import cache
    from django.utils import timezone

    charter = agreed_charter(customer) or current_charter(customer)
    stamp = f"{charter.pk}:{charter.updated_at.timestamp()}" if charter else "none"
    key = f"tango:scorecard:{customer.pk}:{timezone.localdate()}:{stamp}"
    return cache.get_or_set(
        key, lambda: mutual_scorecard(customer, charter=charter), SCORECARD_SECONDS
    )


@dataclass
class ListeningDue:
    customer: object
    commitment: str
    promised: float
    held: float
    last_held: dt.date | None

    @property
    def missing(self) -> int:
        return max(math.ceil(self.promised - self.held - 1e-9), 0)


def listening_due(customers, *, as_of: dt.date | None = None) -> list[ListeningDue]:
    """Listening commitments (business reviews and the like) of the customers' agreed
    charters that are behind: fewer sessions in the last twelve months than promised."""
    from django.utils import timezone

    from commitments.models import Commitment, CommitmentOverride

    as_of = as_of or timezone.localdate()
    charters = list(
        Charter.objects.filter(customer__in=customers, status=Charter.Status.AGREED)
        .select_related("customer")
        .only("pk", "blueprint_id", "customer")
    )
    if not charters:
        return []
    promises = {}
    for c in Commitment.objects.filter(
        blueprint_id__in={ch.blueprint_id for ch in charters},
        metric="listening_sessions_per_year",
        target__isnull=False,
    ):
        promises.setdefault(c.blueprint_id, []).append(c)
    overrides = {
        (o.charter_id, o.commitment_id): o
        for o in CommitmentOverride.objects.filter(charter__in=charters)
    }
    with_promises = [ch for ch in charters if ch.blueprint_id in promises]
    if not with_promises:
        return []
    data = load_metric_data(as_of=as_of, customer_ids=[ch.customer_id for ch in with_promises])
    held = get_metric("listening_sessions_per_year")(data)
    sessions = data.activities[data.activities["kind"] == "listening"]
    last = sessions.groupby("customer_id")["date"].max()
    due: list[ListeningDue] = []
    for charter in with_promises:
        for commitment in promises[charter.blueprint_id]:
            override = overrides.get((charter.pk, commitment.pk))
            if override is not None and override.excluded:
                continue
            target = (
                override.target if override and override.target is not None else commitment.target
            )
            row = ListeningDue(
                customer=charter.customer,
                commitment=commitment.title,
                promised=float(target),
                held=float(held.get(charter.customer_id, 0.0)),
                last_held=last[charter.customer_id].date() if charter.customer_id in last else None,
            )
            if row.missing:
                due.append(row)
    due.sort(key=lambda r: (-r.missing, r.customer.name))
    return due
