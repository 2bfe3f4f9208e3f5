DROP TABLE audit_event_customers;
