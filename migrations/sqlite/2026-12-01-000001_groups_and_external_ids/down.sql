DROP TABLE group_members;
DROP TABLE customer_groups;
DROP INDEX memberships_external_id_idx;
ALTER TABLE memberships DROP COLUMN external_id;
