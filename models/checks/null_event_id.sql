-- grain: one row per usage_events row without an event_id (or source / occurred_at)
select source, request_id, occurred_at
from usage_events
where event_id is null or source is null or occurred_at is null
