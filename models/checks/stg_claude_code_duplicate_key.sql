-- grain: one row per event_id staged more than once from raw_claude_code.
select event_id, count(*) as copies
from stg_claude_code
group by event_id
having count(*) > 1
