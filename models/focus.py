"""FinOps FOCUS 1.2 Cost and Usage columns, as data, and a validator for a FOCUS CSV file.

Taken from the FOCUS specification repository (FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec,
tag v1.2, ``specification/columns/*.md`` and ``specification/attributes/*.md``): each column's
feature level, nullability, data type and, where the spec fixes them, its allowed values. The
export in ``models/exports.py`` writes :data:`EXPORT_COLUMNS`; :func:`validate` checks a file
against the spec so the tests (and anyone holding a file) can prove it conforms.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path

FOCUS_VERSION = "1.2"


@dataclass(frozen=True)
class Column:
    name: str
    level: str  # Mandatory | Conditional | Recommended
    nullable: bool
    data_type: str  # String | Decimal | Date/Time | JSON


_M, _C, _R = "Mandatory", "Conditional", "Recommended"

# Every Cost and Usage column of FOCUS 1.2 (feature level, allows nulls, data type).
COLUMNS: tuple[Column, ...] = (
    Column("AvailabilityZone", _R, True, "String"),
    Column("BilledCost", _M, False, "Decimal"),
    Column("BillingAccountId", _M, False, "String"),
    Column("BillingAccountName", _M, True, "String"),
    Column("BillingAccountType", _C, False, "String"),
    Column("BillingCurrency", _M, False, "String"),
    Column("BillingPeriodEnd", _M, False, "Date/Time"),
    Column("BillingPeriodStart", _M, False, "Date/Time"),
    Column("CapacityReservationId", _C, True, "String"),
    Column("CapacityReservationStatus", _C, True, "String"),
    Column("ChargeCategory", _M, False, "String"),
    Column("ChargeClass", _M, True, "String"),
    Column("ChargeDescription", _M, True, "String"),
    Column("ChargeFrequency", _R, False, "String"),
    Column("ChargePeriodEnd", _M, False, "Date/Time"),
    Column("ChargePeriodStart", _M, False, "Date/Time"),
    Column("CommitmentDiscountCategory", _C, True, "String"),
    Column("CommitmentDiscountId", _C, True, "String"),
    Column("CommitmentDiscountName", _C, True, "String"),
    Column("CommitmentDiscountQuantity", _C, True, "Decimal"),
    Column("CommitmentDiscountStatus", _C, True, "String"),
    Column("CommitmentDiscountType", _C, True, "String"),
    Column("CommitmentDiscountUnit", _C, True, "String"),
    Column("ConsumedQuantity", _C, True, "Decimal"),
    Column("ConsumedUnit", _C, True, "String"),
    Column("ContractedCost", _M, False, "Decimal"),
    Column("ContractedUnitPrice", _C, True, "Decimal"),
    Column("EffectiveCost", _M, False, "Decimal"),
    Column("InvoiceId", _R, True, "String"),
    Column("InvoiceIssuerName", _M, False, "String"),
    Column("ListCost", _M, False, "Decimal"),
    Column("ListUnitPrice", _C, True, "Decimal"),
    Column("PricingCategory", _C, True, "String"),
    Column("PricingCurrency", _C, True, "String"),
    Column("PricingCurrencyContractedUnitPrice", _C, True, "Decimal"),
    Column("PricingCurrencyEffectiveCost", _C, True, "Decimal"),
    Column("PricingCurrencyListUnitPrice", _C, True, "Decimal"),
    Column("PricingQuantity", _M, True, "Decimal"),
    Column("PricingUnit", _M, True, "String"),
    Column("ProviderName", _M, False, "String"),
    Column("PublisherName", _M, False, "String"),
    Column("RegionId", _C, True, "String"),
    Column("RegionName", _C, True, "String"),
    Column("ResourceId", _C, True, "String"),
    Column("ResourceName", _C, True, "String"),
    Column("ResourceType", _C, True, "String"),
    Column("ServiceCategory", _M, False, "String"),
    Column("ServiceName", _M, False, "String"),
    Column("ServiceSubcategory", _R, False, "String"),
    Column("SkuId", _C, True, "String"),
    Column("SkuMeter", _C, True, "String"),
    Column("SkuPriceDetails", _C, True, "JSON"),
    Column("SkuPriceId", _C, True, "String"),
    Column("SubAccountId", _C, True, "String"),
    Column("SubAccountName", _C, True, "String"),
    Column("SubAccountType", _C, True, "String"),
    Column("Tags", _C, True, "JSON"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
MANDATORY: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.level == _M)

SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
# (ServiceCategory, ServiceSubcategory): each subcategory has exactly one parent.
SERVICE_SUBCATEGORIES: tuple[tuple[str, str], ...] = (
    ("AI and Machine Learning", "AI Platforms"),
    ("AI and Machine Learning", "Bots"),
    ("AI and Machine Learning", "Generative AI"),
    ("AI and Machine Learning", "Machine Learning"),
    ("AI and Machine Learning", "Natural Language Processing"),
    ("AI and Machine Learning", "Other (AI and Machine Learning)"),
    ("Analytics", "Analytics Platforms"),
    ("Analytics", "Business Intelligence"),
    ("Analytics", "Data Processing"),
    ("Analytics", "Search"),
    ("Analytics", "Streaming Analytics"),
    ("Analytics", "Other (Analytics)"),
    ("Business Applications", "Productivity and Collaboration"),
    ("Business Applications", "Other (Business Applications)"),
    ("Compute", "Containers"),
    ("Compute", "End User Computing"),
    ("Compute", "Quantum Compute"),
    ("Compute", "Serverless Compute"),
    ("Compute", "Virtual Machines"),
    ("Compute", "Other (Compute)"),
    ("Databases", "Caching"),
    ("Databases", "Data Warehouses"),
    ("Databases", "Ledger Databases"),
    ("Databases", "NoSQL Databases"),
    ("Databases", "Relational Databases"),
    ("Databases", "Time Series Databases"),
    ("Databases", "Other (Databases)"),
    ("Developer Tools", "Developer Platforms"),
    ("Developer Tools", "Continuous Integration and Deployment"),
    ("Developer Tools", "Development Environments"),
    ("Developer Tools", "Source Code Management"),
    ("Developer Tools", "Quality Assurance"),
    ("Developer Tools", "Other (Developer Tools)"),
    ("Identity", "Identity and Access Management"),
    ("Identity", "Other (Identity)"),
    ("Integration", "API Management"),
    ("Integration", "Messaging"),
    ("Integration", "Workflow Orchestration"),
    ("Integration", "Other (Integration)"),
    ("Internet of Things", "IoT Analytics"),
    ("Internet of Things", "IoT Platforms"),
    ("Internet of Things", "Other (Internet of Things)"),
    ("Management and Governance", "Architecture"),
    ("Management and Governance", "Compliance"),
    ("Management and Governance", "Cost Management"),
    ("Management and Governance", "Data Governance"),
    ("Management and Governance", "Disaster Recovery"),
    ("Management and Governance", "Endpoint Management"),
    ("Management and Governance", "Observability"),
    ("Management and Governance", "Support"),
    ("Management and Governance", "Other (Management and Governance)"),
    ("Media", "Content Creation"),
    ("Media", "Gaming"),
    ("Media", "Media Streaming"),
    ("Media", "Mixed Reality"),
    ("Media", "Other (Media)"),
    ("Migration", "Data Migration"),
    ("Migration", "Resource Migration"),
    ("Migration", "Other (Migration)"),
    ("Mobile", "Other (Mobile)"),
    ("Multicloud", "Multicloud Integration"),
    ("Multicloud", "Other (Multicloud)"),
    ("Networking", "Application Networking"),
    ("Networking", "Content Delivery"),
    ("Networking", "Network Connectivity"),
    ("Networking", "Network Infrastructure"),
    ("Networking", "Network Routing"),
    ("Networking", "Network Security"),
    ("Networking", "Other (Networking)"),
    ("Security", "Secret Management"),
    ("Security", "Security Posture Management"),
    ("Security", "Threat Detection and Response"),
    ("Security", "Other (Security)"),
    ("Storage", "Backup Storage"),
    ("Storage", "Block Storage"),
    ("Storage", "File Storage"),
    ("Storage", "Object Storage"),
    ("Storage", "Storage Platforms"),
    ("Storage", "Other (Storage)"),
    ("Web", "Application Platforms"),
    ("Web", "Other (Web)"),
    ("Other", "Other (Other)"),
)
ALLOWED_VALUES: dict[str, frozenset[str]] = {
    "ChargeCategory": frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": frozenset({"Correction"}),
    "ChargeFrequency": frozenset({"One-Time", "Recurring", "Usage-Based"}),
    "PricingCategory": frozenset({"Standard", "Dynamic", "Committed", "Other"}),
    "ServiceCategory": frozenset(SERVICE_CATEGORIES),
    "ServiceSubcategory": frozenset(sub for _, sub in SERVICE_SUBCATEGORIES),
}

# The columns `llmledger export billing --format focus` writes, in this order: FOCUS columns
# first, then custom columns, which the spec requires to carry the x_ prefix and come last.
FOCUS_EXPORT_COLUMNS: tuple[str, ...] = (
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ServiceCategory",
    "ServiceSubcategory",
    "ServiceName",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "RegionId",
    "SkuId",
    "SkuPriceId",
    "SkuMeter",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "ListCost",
    "ContractedUnitPrice",
    "ContractedCost",
    "EffectiveCost",
    "BilledCost",
    "Tags",
)
CUSTOM_EXPORT_COLUMNS: tuple[str, ...] = (
    "x_Developer",
    "x_Team",
    "x_CostCenter",
    "x_Project",
    "x_IdentityStatus",
    "x_Source",
    "x_Model",
    "x_TokenType",
    "x_PricingScope",
    "x_PricingTier",
    "x_Requests",
    "x_TokenTypeRequests",
    "x_CostSource",
    "x_PriceBookVersion",
    "x_DiscountPct",
)
EXPORT_COLUMNS: tuple[str, ...] = FOCUS_EXPORT_COLUMNS + CUSTOM_EXPORT_COLUMNS

_NUMERIC = re.compile(r"-?(\d+(\.\d+)?|\.\d+)(E-?\d+)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_CURRENCY = re.compile(r"[A-Z]{3}")
# UnitFormat: "<plural-units>", optionally led by a whole-number quantity ("1000 Tokens").
_UNIT = re.compile(r"(\d+ )?[A-Z][A-Za-z]*([-/][A-Z][A-Za-z]*)?")


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str | None]]]:
    """A FOCUS CSV file as (header, rows); an empty cell is NULL."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [
            {k: (v if v != "" else None) for k, v in zip(header, r, strict=True)} for r in reader
        ]
    return header, rows


def validate(header: list[str], rows: Iterable[Mapping[str, str | None]]) -> list[str]:
    """Every way the file breaks FOCUS 1.2 (empty when it conforms); row numbers count from 1."""
    problems = _check_header(header)
    for number, row in enumerate(rows, start=1):
        problems.extend(f"row {number}: {p}" for p in _check_row(header, row))
    return problems


def _check_header(header: list[str]) -> list[str]:
    problems = [f"missing Mandatory column {name}" for name in MANDATORY if name not in header]
    seen_custom = False
    for name in header:
        if name in BY_NAME:
            if seen_custom:
                problems.append(f"FOCUS column {name} comes after a custom column")
        elif name.startswith("x_"):
            seen_custom = True
        else:
            problems.append(f"column {name} is neither a FOCUS 1.2 column nor x_-prefixed")
    if len(set(header)) != len(header):
        problems.append("duplicate column names")
    return problems


def _check_row(header: list[str], row: Mapping[str, str | None]) -> Iterator[str]:
    for name in header:
        column = BY_NAME.get(name)
        value = row.get(name)
        if column is None:
            continue
        if value is None:
            if not column.nullable:
                yield f"{name} is null"
            continue
        if value.strip() == "":
            yield f"{name} is blank"
        yield from _check_value(column, value)
    yield from _check_rules(row)


def _check_value(column: Column, value: str) -> Iterator[str]:
    name = column.name
    if column.data_type == "Decimal" and not _NUMERIC.fullmatch(value):
        yield f"{name} = {value!r} is not in NumericFormat"
    if column.data_type == "Date/Time" and not _DATETIME.fullmatch(value):
        yield f"{name} = {value!r} is not YYYY-MM-DDTHH:mm:ssZ"
    if column.data_type == "JSON":
        yield from _check_key_value(name, value)
    if name in ALLOWED_VALUES and value not in ALLOWED_VALUES[name]:
        yield f"{name} = {value!r} is not an allowed value"
    if name in ("BillingCurrency", "PricingCurrency") and not _CURRENCY.fullmatch(value):
        yield f"{name} = {value!r} is not an ISO 4217 code"
    if name in ("PricingUnit", "ConsumedUnit") and not _UNIT.fullmatch(value):
        yield f"{name} = {value!r} is not in UnitFormat"


def _check_key_value(name: str, value: str) -> Iterator[str]:
    try:
        doc = json.loads(value, object_pairs_hook=_unique_keys)
    except ValueError as exc:
        yield f"{name} is not a JSON object with unique keys ({exc})"
        return
    if not isinstance(doc, dict):
        yield f"{name} is not a JSON object"
        return
    for key, item in doc.items():
        if isinstance(item, (dict, list)):
            yield f"{name}.{key} is an object or array"


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _dec(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _check_rules(row: Mapping[str, str | None]) -> Iterator[str]:
    """Cross-column rules of FOCUS 1.2 for the columns this project writes."""
    category = row.get("ChargeCategory")
    correction = row.get("ChargeClass") == "Correction"
    if category == "Usage" and not correction:
        for name in (
            "PricingQuantity",
            "PricingUnit",
            "ListUnitPrice",
            "ContractedUnitPrice",
            "SkuId",
            "SkuPriceId",
            "ConsumedQuantity",
            "ConsumedUnit",
        ):
            if name in row and row[name] is None:
                yield f"{name} is null on a Usage row"
    if (row.get("PricingQuantity") is None) != (row.get("PricingUnit") is None):
        yield "PricingUnit must be null exactly when PricingQuantity is"
    if "ConsumedQuantity" in row and (row.get("ConsumedQuantity") is None) != (
        row.get("ConsumedUnit") is None
    ):
        yield "ConsumedUnit must be null exactly when ConsumedQuantity is"
    if "SkuMeter" in row and row.get("SkuId") is None and row.get("SkuMeter") is not None:
        yield "SkuMeter must be null when SkuId is"
    quantity = _dec(row.get("PricingQuantity"))
    if not correction and quantity is not None:
        pairs = (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost"))
        for price, cost in pairs:
            unit, total = _dec(row.get(price)), _dec(row.get(cost))
            if unit is None or total is None:
                continue
            with localcontext() as ctx:
                ctx.prec = 100  # exact: the product of two decimals of a few dozen digits
                product = unit * quantity
            if product != total:
                yield f"{price} x PricingQuantity = {product} but {cost} = {total}"
    for price in ("ListUnitPrice", "ContractedUnitPrice"):
        unit = _dec(row.get(price))
        if unit is not None and unit < 0:
            yield f"{price} is negative"
    start, end = row.get("ChargePeriodStart"), row.get("ChargePeriodEnd")
    if start and end and not start < end:
        yield "ChargePeriodEnd is not after ChargePeriodStart"
    b_start, b_end = row.get("BillingPeriodStart"), row.get("BillingPeriodEnd")
    if start and end and b_start and b_end and not (b_start <= start and end <= b_end):
        yield "the charge period lies outside the billing period"
    if b_start and b_end and not b_start < b_end:
        yield "BillingPeriodEnd is not after BillingPeriodStart"
    category_value, sub = row.get("ServiceCategory"), row.get("ServiceSubcategory")
    if sub is not None and (category_value, sub) not in SERVICE_SUBCATEGORIES:
        yield f"ServiceSubcategory {sub!r} is not under ServiceCategory {category_value!r}"
    if category == "Purchase" and row.get("ChargeFrequency") == "Usage-Based":
        yield "ChargeFrequency is Usage-Based on a Purchase row"
