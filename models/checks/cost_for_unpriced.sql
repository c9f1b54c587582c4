-- grain: one row per unpriced usage_events row that still carries a cost (never a silent $0)
select event_id, model, cost_usd
from usage_events
where unpriced and cost_usd is not null
