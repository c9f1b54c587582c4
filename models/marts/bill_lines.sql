-- grain: one row per LLM line of the providers' bills (bill_line_id): AWS CUR 2.0 (the latest
-- delivery of each billing period) and the GCP Cloud Billing export. Not requests: nothing here
-- reaches usage_events.
select * from int_bill_lines
