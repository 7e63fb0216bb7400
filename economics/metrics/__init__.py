from .calendar import BusinessCalendar, business_hours_between
from .catalogue import (
    COMPANY,
    CUSTOMER,
    HIGHER,
    LOWER,
    METRICS,
    Metric,
    MetricData,
    compute_all,
    get_metric,
    metrics_for,
)
from .scoring import attainment, weighted_score

__all__ = [
    "COMPANY",
    "CUSTOMER",
    "HIGHER",
    "LOWER",
    "METRICS",
    "BusinessCalendar",
    "Metric",
    "MetricData",
    "attainment",
    "business_hours_between",
    "compute_all",
    "get_metric",
    "metrics_for",
    "weighted_score",
]
