ALTER TABLE customers DROP COLUMN named_users;
