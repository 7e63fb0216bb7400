"""Check a chunk of rows against a spec, column by column, vectorised with pandas.

``validate_chunk`` returns the cleaned values (what the database will hold, ``None``
where a cell is invalid or NULL) and one error per bad cell. Checks that need the
whole file or the database (duplicates of the natural key, references) run later,
in SQL, on the staging table. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .specs import Column, DateOrder, IfAndOnlyIf, NotSame, OneOf, Spec, Type

ERROR_COLUMNS = ["row", "column", "value", "code", "reason"]
MAX_VALUE_CHARS = 200

DATE_RE = r"\d{4}-\d{2}-\d{2}"
DATETIME_RE = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
OFFSET_RE = r"(?:Z|[+-]\d{2}:?\d{2})$"
NUMBER_RE = r"-?\d+(?:\.\d+)?"
INTEGER_RE = r"-?\d+"
BOOLEANS = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}


@dataclass
class ChunkResult:
    clean: pd.DataFrame  # one column per present spec column, index = row numbers
    errors: pd.DataFrame  # ERROR_COLUMNS


class _Errors:
    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, column: str, values: pd.Series, code: str, reason) -> None:
        """One error per row where ``mask`` holds; ``reason`` is a text or a Series."""
        if not mask.any():
            return
        rows = mask.index[mask.to_numpy()]
        value = values[mask].astype(str).str.slice(0, MAX_VALUE_CHARS)
        why = reason[mask] if isinstance(reason, pd.Series) else reason
        self.parts.append(
            pd.DataFrame(
                {
                    "row": rows.astype("int64"),
                    "column": column,
                    "value": value.to_numpy(),
                    "code": code,
                    "reason": why if isinstance(why, str) else why.to_numpy(),
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ERROR_COLUMNS})
        return pd.concat(self.parts, ignore_index=True)


def validate_chunk(
    spec: Spec, chunk: pd.DataFrame, *, columns: list[str], time_zone: str
) -> ChunkResult:
    """``chunk`` has one text column per name in ``columns`` (present spec columns)."""
    errors = _Errors()
    raw = {name: chunk[name].astype(str).str.strip() for name in columns}
    clean: dict[str, pd.Series] = {}
    parsed: dict[str, pd.Series] = {}  # dates and times, for the rules
    for name in columns:
        column = spec.by_name[name]
        values = raw[name]
        empty = values == ""
        if column.required:
            errors.add(empty, name, values, "required", "is required")
        clean[name], parsed_values = _check(column, values, empty, errors, time_zone)
        if parsed_values is not None:
            parsed[name] = parsed_values
    for rule in spec.rules:
        _apply_rule(rule, raw, parsed, errors)
    frame = pd.DataFrame(clean, index=chunk.index)
    return ChunkResult(clean=frame, errors=errors.frame())


def _check(
    column: Column, values: pd.Series, empty: pd.Series, errors: _Errors, time_zone: str
) -> tuple[pd.Series, pd.Series | None]:
    name = column.name
    default = column.default
    filled = ~empty
    if column.max_length is not None and column.type in (Type.TEXT, Type.REFERENCE):
        too_long = values.str.len() > column.max_length
        errors.add(
            too_long, name, values, "too_long", f"is longer than {column.max_length} characters"
        )
        out = values.where(~too_long, None)
        return out.where(filled, default), None
    if column.type in (Type.TEXT, Type.REFERENCE):
        return values.where(filled, default), None

    if column.type == Type.DATE:
        well_formed = values.str.fullmatch(DATE_RE)
        dates = pd.to_datetime(
            values.where(well_formed & filled), format="%Y-%m-%d", errors="coerce"
        )
        bad = filled & dates.isna()
        errors.add(bad, name, values, "invalid_date", "is not a date (YYYY-MM-DD)")
        out = values.where(filled & ~bad, None)
        return out.where(filled, default), dates

    if column.type == Type.DATETIME:
        well_formed = filled & values.str.fullmatch(DATETIME_RE)
        aware = well_formed & values.str.contains(OFFSET_RE, regex=True)
        naive = well_formed & ~aware
        stamps = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
        if naive.any():
            local = pd.to_datetime(values[naive], format="ISO8601", errors="coerce")
            local = local.dt.tz_localize(time_zone, ambiguous="NaT", nonexistent="NaT")
            stamps[naive] = local.dt.tz_convert("UTC")
        if aware.any():
            stamps[aware] = pd.to_datetime(
                values[aware], format="ISO8601", errors="coerce", utc=True
            )
        bad = filled & stamps.isna()
        errors.add(
            bad,
            name,
            values,
            "invalid_datetime",
            "is not a date and time (YYYY-MM-DD HH:MM[:SS], optionally with an offset) "
            f"that exists in {time_zone}",
        )
        return stamps, stamps

    if column.type in (Type.MONEY, Type.DECIMAL, Type.INTEGER):
        pattern = INTEGER_RE if column.type == Type.INTEGER else NUMBER_RE
        well_formed = values.str.fullmatch(pattern).fillna(False).astype(bool)
        malformed = filled & ~well_formed
        if column.type == Type.MONEY:
            errors.add(
                malformed,
                name,
                values,
                "invalid_amount",
                "is not an amount (digits with a dot as decimal separator, e.g. 1234.50)",
            )
        elif column.type == Type.DECIMAL:
            errors.add(
                malformed,
                name,
                values,
                "invalid_number",
                "is not a number (digits with a dot as decimal separator, e.g. 2.5)",
            )
        else:
            errors.add(malformed, name, values, "invalid_integer", "is not a whole number")
        ok = filled & well_formed
        bad = malformed.copy()
        if column.type != Type.INTEGER:
            decimals = values.str.extract(r"\.(\d+)$", expand=False).str.len().fillna(0)
            too_precise = ok & (decimals > column.decimal_places)
            errors.add(
                too_precise,
                name,
                values,
                "too_precise",
                f"has more than {column.decimal_places} decimals",
            )
            digits = values.str.extract(r"^-?0*(\d*)", expand=False).str.len().fillna(0)
            too_large = ok & ~too_precise & (digits > column.max_digits - column.decimal_places)
            errors.add(too_large, name, values, "out_of_range", "is too large")
            bad = bad | too_precise | too_large
        number = pd.to_numeric(values.where(ok & ~bad), errors="coerce")
        out_of_range = pd.Series(False, index=values.index)
        if column.minimum is not None:
            low = float(column.minimum)
            out_of_range |= (number <= low) if column.exclusive_minimum else (number < low)
        if column.maximum is not None:
            out_of_range |= number > float(column.maximum)
        out_of_range &= ok & ~bad
        errors.add(out_of_range, name, values, "out_of_range", _range_reason(column))
        bad = bad | out_of_range
        out = values.where(ok & ~bad, None)
        if column.type == Type.INTEGER:
            out = number.where(ok & ~bad).map(lambda v: None if pd.isna(v) else str(int(v)))
        return out.where(filled, default), None

    if column.type == Type.BOOLEAN:
        mapped = values.str.lower().map(BOOLEANS)
        bad = filled & mapped.isna()
        errors.add(bad, name, values, "invalid_boolean", "is not true or false (or yes/no, 1/0)")
        out = mapped.map({True: "true", False: "false"}).where(filled & ~bad, None)
        return out.where(filled, default), None

    if column.type == Type.CHOICE:
        if column.choices is None:
            raise ValueError(f"{name} is a choice column without choices")
        lookup: dict[str, str] = {}
        for value, label in column.choices.choices:
            lookup[_choice_key(value)] = value
            lookup[_choice_key(str(label))] = value
        mapped = values.map(lambda v: lookup.get(_choice_key(v)))
        bad = filled & mapped.isna()
        allowed = ", ".join(column.choices.values)
        errors.add(bad, name, values, "invalid_choice", f"is not one of: {allowed}")
        return mapped.where(filled & ~bad, None).where(filled, default), None

    raise ValueError(f"unknown column type {column.type}")  # pragma: no cover


def _choice_key(value: str) -> str:
    return "_".join(value.strip().lower().replace("-", " ").split())


def _range_reason(column: Column) -> str:
    if column.maximum is not None:
        return f"must be between {column.minimum} and {column.maximum}"
    if column.exclusive_minimum:
        return f"must be greater than {column.minimum}"
    if column.minimum == 0:
        return "must not be negative"
    return f"must be at least {column.minimum}"


def _apply_rule(rule, raw: dict[str, pd.Series], parsed: dict[str, pd.Series], errors: _Errors):
    if isinstance(rule, DateOrder):
        if rule.later not in parsed or rule.earlier not in parsed:
            return
        later, earlier = parsed[rule.later], parsed[rule.earlier]
        before = (later < earlier).fillna(False).astype(bool)
        reason = f"is before {rule.earlier} (" + raw[rule.earlier] + ")"
        errors.add(before, rule.later, raw[rule.later], "date_order", reason)
    elif isinstance(rule, NotSame):
        if rule.first not in raw or rule.second not in raw:
            return
        same = (raw[rule.first] == raw[rule.second]) & (raw[rule.first] != "")
        errors.add(same, rule.second, raw[rule.second], "self_reference", rule.reason)
    elif isinstance(rule, OneOf):
        present = [c for c in rule.columns if c in raw]
        if not present:
            return  # the header check reports it
        none = np.logical_and.reduce([raw[c] == "" for c in present])
        mask = pd.Series(none, index=raw[present[0]].index)
        errors.add(
            mask,
            present[0],
            raw[present[0]],
            "one_of_required",
            " or ".join(rule.columns) + " is required",
        )
    elif isinstance(rule, IfAndOnlyIf):
        if rule.column not in raw or rule.when not in raw:
            return  # the header check reports a lone column
        when = raw[rule.when].str.lower() == rule.value
        given = raw[rule.column] != ""
        errors.add(
            when & ~given,
            rule.column,
            raw[rule.column],
            "required",
            f"is required when {rule.when} is {rule.value}",
        )
        errors.add(
            ~when & given,
            rule.column,
            raw[rule.column],
            "not_allowed",
            f"must be empty unless {rule.when} is {rule.value}",
        )
