-- grain: one row per successful Vertex audit entry (insertId) other than count-tokens: a call
-- that produced a response whose caller it names. int_vertex_audit_candidates pairs these with
-- responses; marts/vertex_attribution.sql counts those no response joins to.
with audit_entries as (

    select * from raw_vertex_audit

),

final as (

    select
        insert_id,
        occurred_at,
        project_id,
        region,
        canonical_model(model_id) as model,
        principal_email,
        delegation_chain
    from audit_entries
    where status_code = 0 and canonical_model(model_id) <> 'count-tokens'

)

select * from final
