-- grain: one row per event_id that stg_bedrock stages more than once, or NULL (its natural key,
-- the invocation log's requestId, must stay one row per key)
select event_id, count(*) as copies
from stg_bedrock
group by event_id
having count(*) > 1 or event_id is null
