-- grain: one row per event_id that stg_vertex stages more than once, or NULL (its natural keys,
-- the response id and the audit insertId, must stay one row per key)
select event_id, count(*) as copies
from stg_vertex
group by event_id
having count(*) > 1 or event_id is null
