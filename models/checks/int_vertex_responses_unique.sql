-- grain: one row per Vertex response id or log entry (insert_id) staged more than once
select 'response_id' as key_name, response_id as key_value, count(*) as copies
from int_vertex_responses
group by response_id
having count(*) > 1
union all
select 'insert_id', insert_id, count(*)
from int_vertex_responses
group by insert_id
having count(*) > 1
