-- grain: one row per distinct (source, principal, person_hint, team_hint) among staged events.
-- Resolution (ARCHITECTURE rule 6): the first identity rule whose regex matches the principal
-- wins over everything; else the people directory, matched on email (case-insensitive), aliases
-- and, with identity.match_local_part, the local part of the email; first the person hint, then
-- the last segment of the principal (a session or user name that is in the directory). A name
-- that matches no one stays the developer with team 'unattributed' (or its team hint); no name
-- at all is developer 'unattributed'. An IAM user that no rule or directory entry names a
-- person (user/bedrock-test, user/observe-test) is a named service identity: developer
-- 'unattributed', identity_status 'service', principal kept (Bedrock API-key users stay
-- 'unattributed': a key, not a service).
with events as (

    select distinct source, principal, person_hint, team_hint from int_events

),

people as (

    select * from ref_people

),

rules as (

    select * from ref_identity_rules

),

person_keys as (

    select lower(email) as lookup_key, 1 as strength, email, name, team, cost_center
    from people
    union all
    select lower(trim(alias)), 2, email, name, team, cost_center
    from people, unnest(aliases) as a(alias)
    union all
    select lower(split_part(email, '@', 1)), 3, email, name, team, cost_center
    from people
    where identity_setting('match_local_part', 'false') = 'true'

),

unique_keys as (

    -- a key that names two people (a shared alias, a common local part) names no one
    select
        lookup_key,
        strength,
        any_value(email) as email,
        any_value(name) as name,
        any_value(team) as team,
        any_value(cost_center) as cost_center
    from person_keys
    where lookup_key <> ''
    group by lookup_key, strength
    having count(distinct lower(email)) = 1

),

team_cost_centers as (

    select team, any_value(cost_center) as cost_center
    from people
    where team is not null and cost_center is not null
    group by team
    having count(distinct cost_center) = 1

),

lookups as (

    select
        source, principal, person_hint, team_hint,
        1 as candidate_rank,
        lower(person_hint) as full_key,
        lower(split_part(person_hint, '@', 1)) as local_key
    from events
    where person_hint is not null
    union all
    select
        source, principal, person_hint, team_hint,
        2 as candidate_rank,
        lower(principal_name) as full_key,
        lower(split_part(principal_name, '@', 1)) as local_key
    from (
        select *, nullif(regexp_extract(principal, '([^/:]+)$', 1), '') as principal_name
        from events
    ) as named
    where principal_name is not null

),

directory_matches as (

    select
        l.source, l.principal, l.person_hint, l.team_hint,
        k.email, k.name, k.team, k.cost_center
    from lookups as l
    inner join unique_keys as k
        on (k.strength < 3 and k.lookup_key = l.full_key)
        or (k.strength = 3 and k.lookup_key = l.local_key)
    qualify row_number() over (
        partition by l.source, l.principal, l.person_hint, l.team_hint
        order by l.candidate_rank, k.strength, k.email
    ) = 1

),

rule_matches as (

    select
        e.source, e.principal, e.person_hint, e.team_hint,
        r.rule_order, r.developer, r.team, r.cost_center
    from events as e
    inner join rules as r
        on regexp_matches(coalesce(e.principal, e.person_hint, ''), r.match)
        and (r.source is null or r.source = e.source)
    qualify row_number() over (
        partition by e.source, e.principal, e.person_hint, e.team_hint order by r.rule_order
    ) = 1

),

rule_people as (

    -- the person a rule names, looked up in the directory like any other name
    select
        r.rule_order, k.email, k.name, k.team, k.cost_center
    from rules as r
    inner join unique_keys as k
        on (k.strength < 3 and k.lookup_key = lower(r.developer))
        or (k.strength = 3 and k.lookup_key = lower(split_part(r.developer, '@', 1)))
    qualify row_number() over (partition by r.rule_order order by k.strength, k.email) = 1

),

joined as (

    select
        e.*,
        d.email as directory_email,
        d.name as directory_name,
        d.team as directory_team,
        d.cost_center as directory_cost_center,
        r.rule_order,
        r.developer as rule_developer,
        r.team as rule_team,
        r.cost_center as rule_cost_center,
        rp.email as rule_email,
        rp.name as rule_name,
        rp.team as rule_person_team,
        rp.cost_center as rule_person_cost_center
    from events as e
    left join directory_matches as d
        on d.source = e.source
        and d.principal is not distinct from e.principal
        and d.person_hint is not distinct from e.person_hint
        and d.team_hint is not distinct from e.team_hint
    left join rule_matches as r
        on r.source = e.source
        and r.principal is not distinct from e.principal
        and r.person_hint is not distinct from e.person_hint
        and r.team_hint is not distinct from e.team_hint
    left join rule_people as rp
        on rp.rule_order = r.rule_order and r.developer is not null

),

people_chosen as (

    select
        *,
        case when rule_developer is not null then rule_person_team else directory_team end
            as person_team,
        case when rule_developer is not null then rule_person_cost_center
             else directory_cost_center end as person_cost_center
    from joined

),

resolved as (

    select
        *,
        case
            when rule_developer is not null
                then coalesce(
                    rule_email,
                    case when rule_developer like '%@%' then lower(rule_developer)
                         else rule_developer end)
            when directory_email is not null then directory_email
            when person_hint is not null
                then case when person_hint like '%@%' then lower(person_hint) else person_hint end
            else 'unattributed'
        end as developer,
        coalesce(rule_team, person_team, team_hint, 'unattributed') as team
    from people_chosen

),

final as (

    select
        r.source,
        r.principal,
        r.person_hint,
        r.team_hint,
        r.developer,
        coalesce(
            case when r.rule_developer is not null then r.rule_name else r.directory_name end,
            case when r.developer = 'unattributed' then null else r.developer end
        ) as developer_name,
        r.team,
        coalesce(
            r.rule_cost_center,
            case when r.rule_team is null and r.person_team is not null
                 then r.person_cost_center end,
            t.cost_center,
            'unattributed'
        ) as cost_center,
        case
            when r.rule_order is not null then 'rule'
            when r.directory_email is not null then 'directory'
            when r.person_hint is not null then 'named_not_in_directory'
            when regexp_matches(coalesce(r.principal, ''), '^arn:aws:iam::\d+:user/')
                 and not regexp_matches(r.principal, '(?i)/bedrockapikey-[^/]*$')
                then 'service'
            else 'unattributed'
        end as identity_status,
        r.rule_order
    from resolved as r
    left join team_cost_centers as t on t.team = r.team

)

select * from final
