-- grain: one row per event_id that stg_litellm stages more than once, or NULL (its natural key,
-- the spend log's request_id, must stay one row per key)
select event_id, count(*) as copies
from stg_litellm
group by event_id
having count(*) > 1 or event_id is null
