-- grain: one row per Vertex response (event_id) attributed through an audit entry: the response
-- with exactly one candidate entry, that entry having exactly one candidate response
-- (int_vertex_audit_candidates' matched_insert_id; an ambiguous join attributes nothing, never a
-- guess). The caller as the audit log names it, and its delegation chain.
with responses as (

    select * from int_vertex_responses

),

audit_entries as (

    select * from int_vertex_audit_successes

),

candidates as (

    select * from int_vertex_audit_candidates

),

final as (

    select
        r.event_id,
        c.matched_insert_id as audit_insert_id,
        a.principal_email as audit_principal,
        a.delegation_chain as audit_delegation_chain
    from candidates as c
    inner join responses as r on r.insert_id = c.insert_id
    inner join audit_entries as a on a.insert_id = c.matched_insert_id
    where c.side = 'response'

)

select * from final
