DROP TABLE scim_members;
DROP INDEX api_clients_scim_secret_idx;
ALTER TABLE api_clients DROP COLUMN kind;
