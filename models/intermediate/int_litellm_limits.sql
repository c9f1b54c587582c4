-- grain: one row per LiteLLM rate limit: each active key's and team's overall TPM/RPM/TPD limit
-- (model NULL), and one per model group of its metadata.model_tpm_limit / model_rpm_limit.
-- key_principal is the principal stg_litellm gives the key's requests; team_alias the team
-- hint its requests carry. marts/quota_limits.sql resolves both to a developer and a team.
with api_keys as (

    select * from raw_litellm_keys
    where not deleted and active_token is null and not coalesce(blocked, false)

),

teams as (

    select * from raw_litellm_teams
    where not deleted and not coalesce(blocked, false)

),

key_limits as (

    select
        'litellm_key' as limit_kind,
        cast(null as varchar) as model,
        tpm_limit as tokens_per_minute,
        rpm_limit as requests_per_minute,
        tpd_limit as tokens_per_day,
        'LiteLLM key ' || coalesce(key_alias, key_name, left(token, 12)) as name,
        coalesce(key_alias, key_name, token) as subject,
        coalesce(key_alias, user_id, token) as key_principal,
        cast(null as varchar) as team_alias
    from api_keys
    where tpm_limit is not null or rpm_limit is not null or tpd_limit is not null

),

key_model_limits as (

    select
        'litellm_key_model' as limit_kind,
        canonical_model(m.model_group) as model,
        try_cast(json_extract_string(k.model_tpm_limit, '$."' || m.model_group || '"') as bigint)
            as tokens_per_minute,
        try_cast(json_extract_string(k.model_rpm_limit, '$."' || m.model_group || '"') as bigint)
            as requests_per_minute,
        cast(null as bigint) as tokens_per_day,
        'LiteLLM key ' || coalesce(k.key_alias, k.key_name, left(k.token, 12)) || ' on '
            || m.model_group as name,
        coalesce(k.key_alias, k.key_name, k.token) as subject,
        coalesce(k.key_alias, k.user_id, k.token) as key_principal,
        cast(null as varchar) as team_alias
    from api_keys as k
    cross join unnest(list_distinct(list_concat(
        coalesce(json_keys(k.model_tpm_limit), []), coalesce(json_keys(k.model_rpm_limit), [])
    ))) as m(model_group)

),

team_limits as (

    select
        'litellm_team' as limit_kind,
        cast(null as varchar) as model,
        tpm_limit as tokens_per_minute,
        rpm_limit as requests_per_minute,
        tpd_limit as tokens_per_day,
        'LiteLLM team ' || coalesce(team_alias, team_id) as name,
        coalesce(team_alias, team_id) as subject,
        cast(null as varchar) as key_principal,
        team_alias
    from teams
    where tpm_limit is not null or rpm_limit is not null or tpd_limit is not null

),

team_model_limits as (

    select
        'litellm_team_model' as limit_kind,
        canonical_model(m.model_group) as model,
        try_cast(json_extract_string(t.model_tpm_limit, '$."' || m.model_group || '"') as bigint)
            as tokens_per_minute,
        try_cast(json_extract_string(t.model_rpm_limit, '$."' || m.model_group || '"') as bigint)
            as requests_per_minute,
        cast(null as bigint) as tokens_per_day,
        'LiteLLM team ' || coalesce(t.team_alias, t.team_id) || ' on ' || m.model_group as name,
        coalesce(t.team_alias, t.team_id) as subject,
        cast(null as varchar) as key_principal,
        t.team_alias
    from teams as t
    cross join unnest(list_distinct(list_concat(
        coalesce(json_keys(t.model_tpm_limit), []), coalesce(json_keys(t.model_rpm_limit), [])
    ))) as m(model_group)

),

final as (

    select * from key_limits
    union all
    select * from key_model_limits
    union all
    select * from team_limits
    union all
    select * from team_model_limits

)

select * from final
