-- grain: one row per rate limit to measure usage_minute against: every configured quota
-- (ref_quotas) plus each LiteLLM key and team TPM/RPM/TPD limit (intermediate/int_litellm_limits:
-- one row per key or team for its overall limits, one per model group).
-- How to read a row against usage_minute:
--   source NULL (config quota): provider/region/model/scope as configured; tokens are
--     usage_minute.quota_tokens (Bedrock burndown).
--   source 'litellm': usage_minute rows with source = 'litellm' and the row's developer (key
--     limits) or team (team limits), and model when it is not NULL (NULL = every model); LiteLLM
--     counts total tokens (input + cache read + cache writes + output), see token_basis.
with quotas as (

    select * from ref_quotas

),

litellm_limits as (

    select * from int_litellm_limits

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
        l.limit_kind,
        cast(null as varchar) as provider,
        cast(null as varchar) as region,
        l.model,
        cast(null as varchar) as scope,
        l.tokens_per_minute,
        l.requests_per_minute,
        l.tokens_per_day,
        l.name,
        l.subject,
        d.developer,
        d.team,
        'total_tokens' as token_basis
    from litellm_limits as l
    left join key_developers as d on d.principal = l.key_principal
    where l.limit_kind in ('litellm_key', 'litellm_key_model')

),

team_limits as (

    select
        'litellm' as source,
        l.limit_kind,
        cast(null as varchar) as provider,
        cast(null as varchar) as region,
        l.model,
        cast(null as varchar) as scope,
        l.tokens_per_minute,
        l.requests_per_minute,
        l.tokens_per_day,
        l.name,
        l.subject,
        cast(null as varchar) as developer,
        coalesce(tt.team, l.subject) as team,
        'total_tokens' as token_basis
    from litellm_limits as l
    left join team_teams as tt on tt.team_hint = l.team_alias
    where l.limit_kind in ('litellm_team', 'litellm_team_model')

),

final as (

    select * from config_quotas
    union all
    select * from key_limits
    union all
    select * from team_limits

)

select * from final
