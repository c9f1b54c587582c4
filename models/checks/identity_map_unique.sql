-- grain: one row per identity key resolved more than once in identity_map
select source, principal, person_hint, team_hint, count(*) as copies
from identity_map
group by source, principal, person_hint, team_hint
having count(*) > 1
