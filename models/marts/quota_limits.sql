-- grain: one row per rate limit to measure usage_minute against: every configured quota
-- (ref_quotas) plus each LiteLLM key and team TPM/RPM/TPD limit (one row per key or team for its
-- overall limits, one per model group for metadata.model_tpm_limit / model_rpm_limit).
-- How to read a row against usage_minute:
--   source NULL (config quota): provider/region/model/scope as configured; tokens are
--     usage_minute.quota_tokens (Bedrock burndown).
--   source 'litellm': usage_minute rows with source = 'litellm' and the row's developer (key
--     limits) or team (team limits), and model when it is not NULL (NULL = every model); LiteLLM
--     counts total tokens (input + cache read + cache writes + output), see token_basis.
with quotas as (

    select * from ref_quotas

),

api_keys as (

    select * from raw_litellm_keys
    where not deleted and active_token is null and not coalesce(blocked, false)

),

teams as (

    select * from raw_litellm_teams
    where not deleted and not coalesce(blocked, false)

),

identities as (

    select * from identity_map where source = 'litellm'

),

key_developers as (

    -- the developer a key's requests resolve to (its alias is the staged principal)
    select principal, min(developer) as developer, min(team) as team
    from identities
    group by principal

),

team_teams as (

    -- the team the key-team alias resolves to most often (the directory may name it differently)
    select team_hint, arg_max(team, requests) as team
    from (
        select team_hint, team, count(*) as requests
        from identities
        where team_hint is not null
        group by team_hint, team
    ) as counted
    group by team_hint

),

config_quotas as (

    select
        cast(null as varchar) as source,
        'quota' as limit_kind,
        provider,
        region,
        model,
        scope,
        tokens_per_minute,
        requests_per_minute,
        cast(null as bigint) as tokens_per_day,
        name,
        cast(null as varchar) as subject,
        cast(null as varchar) as developer,
        cast(null as varchar) as team,
        'quota_tokens' as token_basis
    from quotas

),

key_limits as (

    select
        'litellm' as source,
        'litellm_key' as limit_kind,
        cast(null as varchar) as provider,
        cast(null as varchar) as region,
        cast(null as varchar) as model,
        cast(null as varchar) as scope,
        k.tpm_limit as tokens_per_minute,
        k.rpm_limit as requests_per_minute,
        k.tpd_limit as tokens_per_day,
        'LiteLLM key ' || coalesce(k.key_alias, k.key_name, left(k.token, 12)) as name,
        coalesce(k.key_alias, k.key_name, k.token) as subject,
        d.developer,
        d.team,
        'total_tokens' as token_basis
    from api_keys as k
    left join key_developers as d on d.principal = coalesce(k.key_alias, k.user_id, k.token)
    where k.tpm_limit is not null or k.rpm_limit is not null or k.tpd_limit is not null

),

key_model_limits as (

    select
        'litellm' as source,
        'litellm_key_model' as limit_kind,
        cast(null as varchar) as provider,
        cast(null as varchar) as region,
        canonical_model(m.model_group) as model,
        cast(null as varchar) as scope,
        try_cast(json_extract_string(k.model_tpm_limit, '$."' || m.model_group || '"') as bigint)
            as tokens_per_minute,
        try_cast(json_extract_string(k.model_rpm_limit, '$."' || m.model_group || '"') as bigint)
            as requests_per_minute,
        cast(null as bigint) as tokens_per_day,
        'LiteLLM key ' || coalesce(k.key_alias, k.key_name, left(k.token, 12)) || ' on '
            || m.model_group as name,
        coalesce(k.key_alias, k.key_name, k.token) as subject,
        d.developer,
        d.team,
        'total_tokens' as token_basis
    from api_keys as k
    cross join unnest(list_distinct(list_concat(
        coalesce(json_keys(k.model_tpm_limit), []), coalesce(json_keys(k.model_rpm_limit), [])
    ))) as m(model_group)
    left join key_developers as d on d.principal = coalesce(k.key_alias, k.user_id, k.token)

),

team_limits as (

    select
        'litellm' as source,
        'litellm_team' as limit_kind,
        cast(null as varchar) as provider,
        cast(null as varchar) as region,
        cast(null as varchar) as model,
        cast(null as varchar) as scope,
        t.tpm_limit as tokens_per_minute,
        t.rpm_limit as requests_per_minute,
        t.tpd_limit as tokens_per_day,
        'LiteLLM team ' || coalesce(t.team_alias, t.team_id) as name,
        coalesce(t.team_alias, t.team_id) as subject,
        cast(null as varchar) as developer,
        coalesce(tt.team, t.team_alias, t.team_id) as team,
        'total_tokens' as token_basis
    from teams as t
    left join team_teams as tt on tt.team_hint = t.team_alias
    where t.tpm_limit is not null or t.rpm_limit is not null or t.tpd_limit is not null

),

team_model_limits as (

    select
        'litellm' as source,
        'litellm_team_model' as limit_kind,
        cast(null as varchar) as provider,
        cast(null as varchar) as region,
        canonical_model(m.model_group) as model,
        cast(null as varchar) as scope,
        try_cast(json_extract_string(t.model_tpm_limit, '$."' || m.model_group || '"') as bigint)
            as tokens_per_minute,
        try_cast(json_extract_string(t.model_rpm_limit, '$."' || m.model_group || '"') as bigint)
            as requests_per_minute,
        cast(null as bigint) as tokens_per_day,
        'LiteLLM team ' || coalesce(t.team_alias, t.team_id) || ' on ' || m.model_group as name,
        coalesce(t.team_alias, t.team_id) as subject,
        cast(null as varchar) as developer,
        coalesce(tt.team, t.team_alias, t.team_id) as team,
        'total_tokens' as token_basis
    from teams as t
    cross join unnest(list_distinct(list_concat(
        coalesce(json_keys(t.model_tpm_limit), []), coalesce(json_keys(t.model_rpm_limit), [])
    ))) as m(model_group)
    left join team_teams as tt on tt.team_hint = t.team_alias

),

final as (

    select * from config_quotas
    union all
    select * from key_limits
    union all
    select * from key_model_limits
    union all
    select * from team_limits
    union all
    select * from team_model_limits

)

select * from final
