-- grain: one row per successful Vertex audit entry (insertId) other than count-tokens: a call
-- that produced a response whose caller it names. int_vertex_audit_candidates counts these against
-- responses; marts/vertex_attribution.sql counts those no response joins to.
with audit_entries as (

    select * from raw_vertex_audit

),

model_ids as (

    -- each distinct model id canonicalised once, not every row
    select model_id, canonical_model(model_id) as model
    from (select distinct model_id from audit_entries) as ids

),

final as (

    select
        a.insert_id,
        a.occurred_at,
        a.project_id,
        a.region,
        m.model,
        a.principal_email,
        a.delegation_chain
    from audit_entries as a
    inner join model_ids as m on m.model_id = a.model_id
    where a.status_code = 0 and m.model <> 'count-tokens'

)

select * from final
