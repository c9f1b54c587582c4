-- grain: one row per event_id that appears more than once in usage_events
select event_id, count(*) as copies
from usage_events
where event_id is not null
group by event_id
having count(*) > 1
