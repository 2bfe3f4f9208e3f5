-- The seats in use: memberships of users who are not retired. Kept by every
-- change to a membership or a user's status, in the same transaction, so a
-- list page reads one row instead of counting the customer's memberships.
-- `roster check` recounts it.
ALTER TABLE customers ADD COLUMN named_users BIGINT NOT NULL DEFAULT 0;
UPDATE customers SET named_users = (
    SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
    WHERE m.customer_id = customers.id AND u.status <> 'retired'
);
