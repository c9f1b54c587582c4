-- grain: one row per LiteLLM spend-log row (event_id), stg_litellm's rows with the key's, the
-- user's and the team's snapshots filling in what the row's own metadata lacks: the key alias
-- (the principal), the e-mail of the key's owner or of the user, the team alias. The events
-- union reads this model in place of stg_litellm.
with staged as (

    select * from stg_litellm

),

api_keys as (

    select * from raw_litellm_keys

),

users as (

    select * from raw_litellm_users

),

teams as (

    select * from raw_litellm_teams

),

joined as (

    select
        s.*,
        coalesce(s.key_alias, k.key_alias) as any_key_alias,
        owner.user_email as key_owner_email,
        caller.user_email as caller_email,
        t.team_alias as dim_team_alias
    from staged as s
    left join api_keys as k on k.token = s.api_key
    left join users as owner on owner.user_id = coalesce(s.key_user_id, k.user_id)
    left join users as caller on caller.user_id = s.user_id
    left join teams as t on t.team_id = coalesce(s.key_team_id, s.team_id, k.team_id)

),

final as (

    select
        event_id,
        source,
        provider,
        request_id,
        occurred_at,
        coalesce(any_key_alias, user_id, api_key) as principal,
        coalesce(
            key_user_email,
            key_owner_email,
            caller_email,
            case when user_id like '%@%' then user_id end,
            case when any_key_alias not in ('litellm_proxy_master_key',
                                            'litellm-internal-health-check')
                 then any_key_alias end
        ) as person_hint,
        coalesce(key_team_alias, dim_team_alias, metadata_team_hint) as team_hint,
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
        gateway_role,
        gateway_name,
        provider_request_id,
        latency_ms
    from joined

)

select * from final
