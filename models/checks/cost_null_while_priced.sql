-- grain: one row per usage_events row marked priced whose cost or price version is missing
select event_id, model, pricing_scope, price_version
from usage_events
where not unpriced and (cost_usd is null or price_version is null)
