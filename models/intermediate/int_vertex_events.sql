-- grain: one row per Vertex request (event_id), stg_vertex's rows with the caller filled in.
-- Attribution of a response, in order: its labels (identity.vertex_label_*_key); its own
-- principal where the log has one; else the caller of the one audit entry it joins to
-- (int_vertex_audit_callers). The events union reads this model in place of stg_vertex.
with staged as (

    select * from stg_vertex

),

callers as (

    select * from int_vertex_audit_callers

),

attributed as (

    select
        s.*,
        c.audit_principal,
        c.audit_delegation_chain,
        coalesce(s.principal, c.audit_principal) as any_principal
    from staged as s
    left join callers as c on c.event_id = s.event_id

),

final as (

    select
        event_id,
        source,
        provider,
        request_id,
        occurred_at,
        any_principal as principal,
        coalesce(
            person_hint,  -- the developer label, or the entry's own principal when a person
            -- impersonation: the root caller of the delegation chain
            case when principal is null and audit_delegation_chain[1] like '%@%'
                      and audit_delegation_chain[1] not like '%.gserviceaccount.com'
                 then audit_delegation_chain[1] end,
            case when any_principal like '%@%' and any_principal not like '%.gserviceaccount.com'
                 then any_principal end
        ) as person_hint,
        team_hint,
        project,
        model_id,
        model,
        region,
        pricing_scope,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        is_batch,
        reported_cost_usd,
        status,
        error_code,
        billable,
        g.is_gateway as gateway_role,
        gateway_name,
        provider_request_id
    from attributed
    -- each distinct caller tried against the gateway identities once, not every row
    left join (
        select any_principal as gateway_principal, is_gateway_identity(any_principal) as is_gateway
        from (select distinct any_principal from attributed) as p
    ) as g on g.gateway_principal is not distinct from attributed.any_principal

)

select * from final
