-- grain: one row per counted usage_events row with a NULL developer, team or cost_center
select event_id, principal, developer, team, cost_center
from usage_events
where counted and (developer is null or team is null or cost_center is null)
