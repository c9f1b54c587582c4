-- grain: one row per event_id that stg_gateway stages more than once, or NULL (its natural key,
-- gateway name + request id, must stay one row per key)
select event_id, count(*) as copies
from stg_gateway
group by event_id
having count(*) > 1 or event_id is null
