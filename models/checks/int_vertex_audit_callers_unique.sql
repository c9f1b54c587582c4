-- grain: one row per Vertex response given more than one caller by the audit join
select event_id, count(*) as callers
from int_vertex_audit_callers
group by event_id
having count(*) > 1
