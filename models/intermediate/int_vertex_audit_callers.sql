-- grain: one row per Vertex response (event_id) attributed through an audit entry: the one
-- candidate pair in which neither side has another candidate (an ambiguous join attributes
-- nothing, never a guess). The caller as the audit log names it, and its delegation chain.
with responses as (

    select * from int_vertex_responses

),

audit_entries as (

    select * from int_vertex_audit_successes

),

candidates as (

    select * from int_vertex_audit_candidates

),

unique_matches as (

    select usage_insert_id, audit_insert_id
    from candidates
    qualify count(*) over (partition by usage_insert_id) = 1
        and count(*) over (partition by audit_insert_id) = 1

),

final as (

    select
        r.event_id,
        m.audit_insert_id,
        a.principal_email as audit_principal,
        a.delegation_chain as audit_delegation_chain
    from unique_matches as m
    inner join responses as r on r.insert_id = m.usage_insert_id
    inner join audit_entries as a on a.insert_id = m.audit_insert_id

)

select * from final
