-- grain: one row per Vertex Messages response (response id), as staged by stg_vertex: its own
-- principal and developer label, the log entry (insert_id) and where it ran. The one definition
-- of "a Vertex response" that the audit join and vertex_attribution read.
with staged as (

    select * from stg_vertex

),

final as (

    select
        event_id,
        request_id as response_id,
        insert_id,
        occurred_at,
        project_id,
        region,
        model,
        principal,
        developer_label
    from staged
    where vertex_log = 'response'

)

select * from final
