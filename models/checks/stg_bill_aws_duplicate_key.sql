-- offending rows: a bill line staged twice (bill_line_id not unique).
select bill_line_id, count(*) as copies
from stg_bill_aws
group by bill_line_id
having count(*) > 1
