-- grain: one row per usage_events row with a negative cost
select event_id, cost_usd
from usage_events
where cost_usd < 0
